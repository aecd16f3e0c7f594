// The gateway's shared port in the local environment: listening on it, saying why it cannot (a
// port in use names the command that picks another) and trying again every 2 s, moving when
// `cortex env configure local` changed it. Its own file because it keeps its own state (the last
// error, the retry timer, where to listen); the supervisor decides when the port is needed.
import type { Logger } from '../../operator/util/log.ts';
import type { LocalEnvironment } from '../environments.ts';
import type { Gateway } from './gateway.ts';

export class GatewayBinding {
  private readonly gateway: Gateway;
  private readonly log: Logger;
  /** The supervisor is stopping: no new attempt. */
  private readonly stopping: () => boolean;
  /** Where the gateway listens (the local environment's host and port). */
  env: LocalEnvironment;
  /** Why the gateway does not listen, from its last attempt (undefined once it does). */
  error: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(gateway: Gateway, log: Logger, env: LocalEnvironment, stopping: () => boolean) {
    this.gateway = gateway;
    this.log = log;
    this.env = env;
    this.stopping = stopping;
  }

  /** Listens, unless it does already; on failure, says why (error) and tries again in 2 s. */
  async bind(): Promise<void> {
    if (this.gateway.address || this.stopping()) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    try {
      await this.gateway.listen(this.env.port, this.env.host);
      this.error = undefined;
      this.log.info(`serving APIs on http://${this.env.host}:${this.env.port}`);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      this.error =
        code === 'EADDRINUSE'
          ? `port ${this.env.port} is in use by another program; ` +
            'choose a free one with: cortex env configure local --port <port>'
          : `cannot listen on ${this.env.host}:${this.env.port}: ${(error as Error).message}`;
      this.log.error(this.error);
      // Try again: the port may be freed.
      this.timer = setTimeout(() => void this.bind(), 2000);
    }
  }

  /** Stops listening, and trying to. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.gateway.address) await this.gateway.close();
  }

  /** Listens at `env` from now on: at once if it listened (or tried to) elsewhere. */
  async move(env: LocalEnvironment): Promise<void> {
    const moved = env.port !== this.env.port || env.host !== this.env.host;
    this.env = env;
    if (moved && (this.gateway.address || this.timer)) {
      if (this.gateway.address) await this.gateway.close();
      await this.bind();
    }
  }
}
