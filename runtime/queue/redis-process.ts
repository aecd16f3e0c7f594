// A redis-server child process on a loopback port, its data in a folder: what the local
// environment runs for AsyncAPIs when redis-server is installed (cli/local/queue.ts), and what the
// queue tests run (test/helpers/redis-server.ts). Append-only with an fsync per write, so a stop
// and a start keep every stream, as a production Redis with persistence does.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Why no redis-server can be started here, or undefined when one is on PATH. */
export function redisServerMissing(): string | undefined {
  return spawnSync('redis-server', ['--version']).status === 0
    ? undefined
    : 'redis-server is not on PATH (apt-get install redis-server)';
}

export class RedisProcess {
  readonly dir: string;
  readonly port: number;
  private proc: ChildProcess | undefined;
  private output = '';

  constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts it and resolves once it answers PING; throws with its output when it cannot. */
  async start(): Promise<void> {
    this.output = '';
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', ''];
    args.push('--appendonly', 'yes', '--appendfsync', 'always', '--protected-mode', 'no');
    const p = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    p.stdout.on('data', (d: Buffer) => (this.output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (this.output += d.toString()));
    p.on('error', (error) => (this.output += String(error)));
    const deadline = Date.now() + 20_000;
    while (!(await pings(this.port))) {
      if (p.exitCode !== null || p.pid === undefined) throw new Error(`redis-server exited:\n${this.output}`);
      if (Date.now() > deadline) {
        p.kill('SIGKILL');
        throw new Error(`redis-server did not answer on port ${this.port} within 20 s:\n${this.output}`);
      }
      await sleep(50);
    }
  }

  /** SIGTERM and wait: Redis flushes its append-only file and exits. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGCONT'); // in case it is paused
    p.kill('SIGTERM');
    await gone;
  }

  /** Freezes the process for `ms` (SIGSTOP), like a network partition, then lets it go on. */
  async pause(ms: number): Promise<void> {
    this.proc?.kill('SIGSTOP');
    await sleep(ms);
    this.proc?.kill('SIGCONT');
  }
}

/** True when something answers PING with +PONG on the port. */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(1000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
