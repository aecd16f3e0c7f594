// The access log: one JSON line per answered prediction, on at the default log level (info).
// The line has the logger's shape, {"time","level","api","request_id",...fields,"message"}, but
// is built from a fixed template: JSON.stringify of a fresh object per request cost ~1.5 µs and
// most of the front's short-lived garbage at 40k requests/s; this costs ~0.1 µs.
// access-log.test.ts checks that both give the same line.
import type { JsonLogger } from '../operator/util/log.ts';

export class AccessLog {
  private readonly logger: JsonLogger;
  /** `","level":"info","api":<api>,"request_id":` */
  private readonly afterTime: string;
  private lastMs = -1;
  private lastTime = '';

  constructor(logger: JsonLogger, api: string) {
    this.logger = logger;
    this.afterTime = `","level":"info","api":${JSON.stringify(api)},"request_id":`;
  }

  get enabled(): boolean {
    return this.logger.enabled('info');
  }

  /**
   * `requestId`: the client's X-Request-ID (escaped, it is the client's text) or our numeric id.
   * Callers check `enabled` first, so nothing is built when the log is off. `method`: a Handler's
   * verb (Cortex 0.34+); predictions are POSTs. `apiKey`: the name (id) of the API key the
   * request came with (networking.auth: api_key), never the key.
   */
  answered(status: number, requestId: string | number, latencyMs: number, method = 'POST', apiKey?: string): void {
    const now = Date.now();
    if (now !== this.lastMs) {
      this.lastMs = now;
      this.lastTime = new Date(now).toISOString();
    }
    const id = typeof requestId === 'number' ? `"${requestId}"` : JSON.stringify(requestId);
    this.logger.writeLine(
      `{"time":"${this.lastTime}${this.afterTime}${id},"status":${status},"latency_ms":${latencyMs},` +
        (apiKey === undefined ? '' : `"api_key":${JSON.stringify(apiKey)},`) +
        `"message":"${method} / ${status}"}\n`,
    );
  }
}
