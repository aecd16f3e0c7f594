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
import { PROXY_PROBE_HEADER } from '../../operator/api/v1alpha1/index.ts';
import { httpGet } from './http-util.ts';
import { reloadFailures } from './reload-failures.ts';
import { claimUpstreamPort, releaseUpstreamPort, removeContainers, replicaPrefix, runnerEnv } from './pod-replicas.ts';

/**
 * GET /readyz of a replica: `cortex serve`'s own, or, for a pod API's replica, cortex proxy's
 * (the marked probe is answered by the proxy, not forwarded to the user's container).
 */
export function replicaReadyz(port: number, timeoutMs: number) {
  return httpGet(port, '/readyz', timeoutMs, { [PROXY_PROBE_HEADER]: 'readiness' });
}

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
  /**
   * A pod API's replica (its containers run by a container runner, pod-serve.ts): pod.port, which
   * its containers get when free, and the home that names its containers.
   */
  pod?: { port: number; home: string };
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
  /** A gRPC API's replica: the port of its gRPC server (port is then its admin port's). */
  grpcPort: number | undefined;
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
  /** Whether the child is being spawned (a pod replica first claims its port). */
  private launching = false;

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
    this.grpcPort = undefined;
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
    let resolveExited!: () => void;
    this.exited = new Promise((resolve) => (resolveExited = resolve));
    const ended = (code: number | null, signal: NodeJS.Signals | null, spawnError?: string) => {
      this.child = undefined;
      void this.removeContainers().finally(() => {
        this.finish(code, signal, spawnError);
        resolveExited();
      });
    };
    if (options.pod === undefined) this.spawnServe([], options.env, ended);
    else void this.launchPod(options.pod, ended);
    this.poll();
  }

  /** A pod API's replica: its upstream port and the supervisor's container runner first. */
  private async launchPod(
    pod: NonNullable<ReplicaOptions['pod']>,
    ended: (code: number | null, signal: NodeJS.Signals | null, spawnError?: string) => void,
  ): Promise<void> {
    this.launching = true;
    try {
      const upstream = await claimUpstreamPort(this.id, pod.port);
      const env = await runnerEnv(this.options.env);
      if (this.stopRequested) return ended(null, null);
      this.spawnServe(
        ['--upstream-port', String(upstream), '--admin-port', '0'],
        { ...env, CORTEX_CONTAINER_PREFIX: replicaPrefix(pod.home, this.id) },
        ended,
      );
    } catch (error) {
      ended(null, null, `could not start: ${(error as Error).message}`);
    } finally {
      this.launching = false;
    }
  }

  /** A pod replica's containers that are left (a killed replica could not remove them); its port freed. */
  private async removeContainers(): Promise<void> {
    const pod = this.options.pod;
    if (pod === undefined) return;
    try {
      await removeContainers(this.options.env, replicaPrefix(pod.home, this.id));
    } catch {
      // no runner: nothing could have been started
    }
    releaseUpstreamPort(this.id);
  }

  private spawnServe(
    extraArgs: string[],
    env: Record<string, string>,
    ended: (code: number | null, signal: NodeJS.Signals | null, spawnError?: string) => void,
  ): void {
    const { options } = this;
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
          '--admin-port', // a gRPC API's HTTP side (/readyz, /metrics); pod APIs' cortex proxy's
          '0',
          ...extraArgs,
        ],
        {
          cwd: path.dirname(options.configFile),
          env: { ...env, CORTEX_TERMINATION_LOG: options.terminationFile },
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
    // spawn failed (no pid): reported like an exit.
    child.once('error', (error) => ended(null, null, `could not start: ${error.message}`));
    child.once('exit', (code, signal) => ended(code, signal));
  }

  /**
   * Takes over a replica that a supervisor which died had started and that still serves
   * (`pid` answers /readyz on `port`): ready at once; its exit is noticed by polling.
   */
  adopt(pid: number, port: number, startedAt: Date, grpcPort?: number): void {
    this.stopRequested = false;
    this.pid = pid;
    this.port = port;
    this.grpcPort = grpcPort;
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
        void this.removeContainers().finally(() => {
          this.finish(null, null);
          resolve();
        });
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
          const log = this.readLogSinceStart(64 * 1024);
          const match = servingLine.exec(log);
          if (match) this.port = Number(match[1]);
          // a gRPC API (docs/grpc.md): that line is its admin port's; the gRPC port is beside it
          const grpc = match ? /"grpcPort":(\d+)/.exec(log) : null;
          this.grpcPort = grpc ? Number(grpc[1]) : undefined;
        }
        if (this.port !== undefined) {
          try {
            const { status } = await replicaReadyz(this.port, 1000);
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
    if ((this.runningPid === undefined && !this.launching) || this.state === 'exited') {
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
  /**
   * While starting: the replica's last word on a long step (a model download's progress, the
   * dependency install), for `cortex get`.
   */
  get progress(): string | undefined {
    if (this.state !== 'starting') return undefined;
    return this.lastLogLines(20)
      .reverse()
      .map(parseLine)
      .find((l) => /^(downloading|another replica on this machine is|installing) /.test(l.message))?.message;
  }

  /** While ready: why new model versions are not served (a failed download or load), for `cortex get`. */
  get reloadErrors(): string[] | undefined {
    if (this.state !== 'ready') return undefined;
    const failing = reloadFailures(this.lastLogLines(Infinity).map((l) => parseLine(l).message));
    return failing.length > 0 ? failing : undefined;
  }

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
