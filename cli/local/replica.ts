// One replica of the local environment: a `cortex serve` child process running from a
// snapshot on a free port of 127.0.0.1, its stdout and stderr appended to a log file. The
// port is read from the runtime's first log line; readiness from its /readyz.
//
// The child writes its log straight into the file (a file descriptor, not a pipe through the
// supervisor): per-request access lines must not cost the supervisor anything, and a replica
// never blocks on a slow reader.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpGet } from './http-util.ts';

export const cortexBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'cortex.ts');

export type ReplicaState = 'starting' | 'ready' | 'restarting' | 'stopping' | 'exited';

export interface ReplicaOptions {
  api: string;
  id: string;
  /** The config file in the snapshot. */
  configFile: string;
  env: Record<string, string>;
  logFile: string;
  terminationFile: string;
  /** Seconds a draining replica gets for its in-flight requests. */
  gracePeriodS: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why, in one line: the termination message, or how it exited and its last error line. */
  reason: string;
  /** Whether it exited before it became ready. */
  beforeReady: boolean;
  /** Whether stop() asked for it. */
  expected: boolean;
}

const servingLine = /"message":"serving .*? on http:\/\/[^:"]+:(\d+)/;

export class ReplicaProcess {
  readonly options: ReplicaOptions;
  state: ReplicaState = 'starting';
  port: number | undefined;
  pid: number | undefined;
  /** Times it was started again after exiting on its own. */
  restarts = 0;
  /** Why it last exited on its own (kept until it is ready again, then moved to lastExit). */
  error: string | undefined;
  lastExit: string | undefined;
  startedAt: Date | undefined;
  readyAt: Date | undefined;
  onReady: (() => void) | undefined;
  onExit: ((info: ExitInfo) => void) | undefined;

  private child: ChildProcess | undefined;
  /** Watches a replica taken over from a supervisor that died (not our child: no exit event). */
  private adoptWatch: NodeJS.Timeout | undefined;
  private logOffset = 0;
  private poller: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopRequested = false;

  constructor(options: ReplicaOptions) {
    this.options = options;
  }

  get id(): string {
    return this.options.id;
  }

  start(): void {
    const { options } = this;
    this.stopRequested = false;
    this.state = 'starting';
    this.port = undefined;
    this.readyAt = undefined;
    this.startedAt = new Date();
    mkdirSync(path.dirname(options.logFile), { recursive: true });
    mkdirSync(path.dirname(options.terminationFile), { recursive: true });
    rmSync(options.terminationFile, { force: true });
    appendFileSync(
      options.logFile,
      JSON.stringify({
        time: this.startedAt.toISOString(),
        level: 'info',
        api: options.api,
        request_id: null,
        source: 'cortex',
        replica: options.id,
        message:
          this.restarts > 0
            ? `restarting replica ${options.id} (restart ${this.restarts})`
            : `starting replica ${options.id}`,
      }) + '\n',
    );
    this.logOffset = statSync(options.logFile).size;
    const fd = openSync(options.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        process.execPath,
        [
          cortexBin,
          'serve',
          options.configFile,
          '--api',
          options.api,
          '--port',
          '0',
          '--host',
          '127.0.0.1',
          '--grace-period',
          String(options.gracePeriodS),
        ],
        {
          cwd: path.dirname(options.configFile),
          env: { ...options.env, CORTEX_TERMINATION_LOG: options.terminationFile },
          stdio: ['ignore', fd, fd],
          // Its own process group, so a forced stop also ends its predictor processes.
          detached: true,
        },
      );
    } finally {
      closeSync(fd);
    }
    this.child = child;
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.once('error', (error) => {
        // spawn failed (no pid): reported like an exit.
        this.finish(null, null, `could not start: ${error.message}`);
        resolve();
      });
      child.once('exit', (code, signal) => {
        this.finish(code, signal);
        resolve();
      });
    });
    this.poll();
  }

  /**
   * Takes over a replica that a supervisor which died had started and that still serves
   * (`pid` answers /readyz on `port`): ready at once; its exit is noticed by polling.
   */
  adopt(pid: number, port: number, startedAt: Date): void {
    this.stopRequested = false;
    this.pid = pid;
    this.port = port;
    this.startedAt = startedAt;
    this.readyAt = new Date();
    this.state = 'ready';
    try {
      this.logOffset = statSync(this.options.logFile).size;
    } catch {
      this.logOffset = 0;
    }
    this.exited = new Promise((resolve) => {
      this.adoptWatch = setInterval(() => {
        if (processAlive(pid)) return;
        clearInterval(this.adoptWatch);
        this.adoptWatch = undefined;
        this.finish(null, null);
        resolve();
      }, 200);
    });
  }

  /** The process to signal: our child, or an adopted replica while it runs. */
  private get runningPid(): number | undefined {
    if (this.child !== undefined) return this.child.pid;
    return this.adoptWatch !== undefined ? this.pid : undefined;
  }

  private poll(): void {
    this.poller = setTimeout(
      async () => {
        this.poller = undefined;
        if (this.state !== 'starting') return;
        if (this.port === undefined) {
          const match = servingLine.exec(this.readLogSinceStart(64 * 1024));
          if (match) this.port = Number(match[1]);
        }
        if (this.port !== undefined) {
          try {
            const { status } = await httpGet(this.port, '/readyz', 1000);
            if (status === 200 && this.state === 'starting') {
              this.state = 'ready';
              this.readyAt = new Date();
              if (this.error !== undefined) this.lastExit = this.error;
              this.error = undefined;
              this.onReady?.();
              return;
            }
          } catch {
            // not listening yet, or busy: ask again
          }
        }
        if (this.state === 'starting') this.poll();
      },
      this.port === undefined ? 50 : 100,
    );
  }

  private finish(code: number | null, signal: NodeJS.Signals | null, spawnError?: string): void {
    if (this.poller) clearTimeout(this.poller);
    this.poller = undefined;
    if (this.state === 'exited') return;
    const beforeReady = this.state === 'starting';
    const expected = this.stopRequested;
    this.state = 'exited';
    this.child = undefined;
    const reason = spawnError ?? this.exitReason(code, signal);
    if (!expected) this.error = reason;
    this.onExit?.({ code, signal, reason, beforeReady, expected });
  }

  private exitReason(code: number | null, signal: NodeJS.Signals | null): string {
    let message = '';
    try {
      message = readFileSync(this.options.terminationFile, 'utf8').trim();
    } catch {
      // no termination message
    }
    if (message !== '') return message;
    const how =
      signal !== null
        ? `replica was killed by ${signal}`
        : code !== null
          ? `replica exited with code ${code}`
          : 'replica exited';
    const lastError = this.lastLogLines(50)
      .reverse()
      .map(parseLine)
      .find((l) => l.level === 'error');
    return lastError?.message ? `${how}: ${lastError.message}` : how;
  }

  /** Drains (SIGTERM: in-flight requests finish), then forces after the grace period. */
  stop(): Promise<void> {
    this.stopRequested = true;
    if (this.runningPid === undefined || this.state === 'exited') {
      this.state = 'exited';
      return this.exited;
    }
    this.state = 'stopping';
    if (this.poller) clearTimeout(this.poller);
    this.poller = undefined;
    this.signal('SIGTERM', false);
    const force = setTimeout(() => this.signal('SIGKILL', true), (this.options.gracePeriodS + 5) * 1000);
    return this.exited.finally(() => clearTimeout(force));
  }

  /** Ends it at once (and its predictor processes). */
  kill(): Promise<void> {
    this.stopRequested = true;
    if (this.runningPid !== undefined) this.signal('SIGKILL', true);
    return this.exited;
  }

  private signal(signal: NodeJS.Signals, group: boolean): void {
    const pid = this.runningPid;
    if (pid === undefined) return;
    try {
      process.kill(group ? -pid : pid, signal);
    } catch {
      // already gone
    }
  }

  /** What it logged since its last start, at most `limit` bytes from that point. */
  private readLogSinceStart(limit: number): string {
    try {
      const fd = openSync(this.options.logFile, 'r');
      try {
        const buffer = Buffer.alloc(limit);
        const n = readSync(fd, buffer, 0, limit, this.logOffset);
        return buffer.subarray(0, n).toString('utf8');
      } finally {
        closeSync(fd);
      }
    } catch {
      return '';
    }
  }

  /** The last `n` lines it logged since its last start. */
  lastLogLines(n: number): string[] {
    let text = '';
    try {
      const size = statSync(this.options.logFile).size;
      const from = Math.max(this.logOffset, size - 256 * 1024);
      const fd = openSync(this.options.logFile, 'r');
      try {
        const buffer = Buffer.alloc(size - from);
        const read = readSync(fd, buffer, 0, buffer.length, from);
        text = buffer.subarray(0, read).toString('utf8');
      } finally {
        closeSync(fd);
      }
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(-n);
  }
}

/** A log line's level and message (JSON lines from the runtime; anything else as is). */
export function parseLine(line: string): { level?: string; message: string } {
  if (line.startsWith('{')) {
    try {
      const value = JSON.parse(line) as { level?: string; message?: string; detail?: string };
      return { level: value.level, message: value.message ?? line };
    } catch {
      // not JSON after all
    }
  }
  return { message: line };
}

/** Whether `pid` runs (a zombie does not). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc (macOS): kill(0) is all there is
  }
}
