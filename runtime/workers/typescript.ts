// TypeScript / JavaScript predictors (`predictor.type: typescript`), hosted in a worker thread
// so that a CPU-heavy predict never stalls the front's event loop.
//
// Jobs sent during one event-loop tick travel as ONE postMessage of ONE transferred
// ArrayBuffer (bodies and the few strings a job needs, binary-encoded); the thread answers
// the same way. Nothing is structured-cloned per job. Layouts: typescript-job-codec.ts and
// typescript-result-codec.ts.

import { Worker } from 'node:worker_threads';
import type { Readable } from 'node:stream';
import { JobTable } from './job-table.ts';
import { ThreadSockets } from '../websocket/typescript-sockets.ts';
import type { FromThread } from '../websocket/typescript-thread-sockets.ts';
import {
  BodyKind,
  InitError,
  type PredictJob,
  type PredictorWorker,
  type PredictResult,
  type WorkerExit,
  type WorkerOptions,
} from './types.ts';
import { encodeJobs } from './typescript-job-codec.ts';
import { deliverResults } from './typescript-result-codec.ts';
import type { ThreadConfig } from './typescript-thread.ts';
import { WorkerStream } from '../streaming/worker-stream.ts';

const THREAD_ENTRY = new URL('./typescript-thread.ts', import.meta.url);
const EXITED_BODY = Buffer.from(JSON.stringify({ error: 'worker exited' }));
const SHUTDOWN_BODY = Buffer.from(JSON.stringify({ error: 'worker is shutting down' }));

export interface TypeScriptWorkerExtras {
  /**
   * Pipe the thread's stdout (the predictor's JSON log lines) to `worker.stdout` instead of
   * letting it flow into this process's stdout. The reader must consume it.
   */
  pipeStdout?: boolean;
  /** Where this class's own log lines go (a crashed thread's error). Default: process.stdout. */
  log?: (line: string) => void;
}

type ControlMessage =
  | { type: 'ready'; headers: boolean; verbs?: string[] }
  | { type: 'init-error'; message: string; stack: string }
  | { type: 'streams'; messages: StreamMessage[] };

/** A streamed answer's progress (runtime/workers/typescript-thread-stream.ts). */
type StreamMessage =
  | { type: 'stream'; op: 'start'; id: number; status: number; kind: BodyKind; headers?: [string, string][] }
  | { type: 'stream'; op: 'chunk'; id: number; data: ArrayBuffer }
  | { type: 'stream'; op: 'end'; id: number; error?: string };

export class TypeScriptWorker implements PredictorWorker {
  readonly index: number;
  readonly #options: WorkerOptions;
  readonly #extras: TypeScriptWorkerExtras;
  #worker: Worker | undefined;
  #pid: number | undefined;
  /** Sent and not yet answered, by id (includes the jobs still in #outbox). */
  readonly #jobs = new JobTable();
  /** Streamed answers in progress (started, not ended), by job id. */
  readonly #streams = new Map<number, WorkerStream>();
  /** Jobs (or, with batching, batches) waiting for this tick's postMessage. */
  #outbox: (PredictJob | PredictJob[])[] = [];
  #flushScheduled = false;
  /** Whether the predictor may read the request headers (the thread says so when ready). */
  #sendHeaders = true;
  #verbs: ReadonlySet<string> | undefined;
  /** The predictor's websocket method, when it has one (websocket/typescript-sockets.ts). */
  sockets: ThreadSockets | undefined;
  #ready = false;
  #closing = false;
  #exited = false;
  #startPromise: Promise<void> | undefined;
  #resolveStart: (() => void) | undefined;
  #rejectStart: ((err: InitError) => void) | undefined;
  #initError: InitError | undefined;
  #crash: unknown;
  readonly #exitListeners: ((exit: WorkerExit) => void)[] = [];
  readonly #exitPromise: Promise<void>;
  #resolveExit!: () => void;
  /** Set while shutdown() waits for the in-flight jobs. */
  #drained: (() => void) | undefined;

  constructor(options: WorkerOptions, extras: TypeScriptWorkerExtras = {}) {
    this.index = options.index;
    this.#options = options;
    this.#extras = extras;
    this.#exitPromise = new Promise((resolve) => {
      this.#resolveExit = resolve;
    });
  }

  get inFlight(): number {
    return this.#jobs.size + this.#streams.size;
  }

  get accepting(): boolean {
    return this.#ready && !this.#closing && !this.#exited;
  }

  /** The worker thread's threadId, once started. */
  /** A handler class's HTTP methods (handlePost → POST...); undefined for a predictor. */
  get verbs(): ReadonlySet<string> | undefined {
    return this.#verbs;
  }

  get pid(): number | undefined {
    return this.#pid;
  }

  /** The thread's stdout, when constructed with `pipeStdout: true`. */
  get stdout(): Readable | null {
    return this.#extras.pipeStdout === true && this.#worker !== undefined ? this.#worker.stdout : null;
  }

  start(): Promise<void> {
    if (this.#startPromise !== undefined) return this.#startPromise;
    this.#startPromise = new Promise<void>((resolve, reject) => {
      this.#resolveStart = resolve;
      this.#rejectStart = reject;
    });
    const o = this.#options;
    const data: ThreadConfig = {
      role: 'cortex-ts-predictor',
      api: o.api,
      predictorPath: o.predictorPath,
      config: o.config,
      threads: o.threads,
      batching: o.batching,
      index: o.index,
      logLevel: o.logLevel,
    };
    let worker: Worker;
    try {
      worker = new Worker(THREAD_ENTRY, {
        workerData: data,
        env: { ...process.env, ...o.env },
        stdout: this.#extras.pipeStdout === true,
        name: `cortex ${o.api} predictor ${o.index}`,
      });
    } catch (err) {
      this.#exited = true;
      this.#rejectStart!(
        new InitError(
          `could not start the predictor thread: ${err instanceof Error ? err.message : String(err)}`,
          err instanceof Error ? (err.stack ?? err.message) : String(err),
        ),
      );
      this.#resolveExit();
      return this.#startPromise;
    }
    this.#worker = worker;
    this.#pid = worker.threadId;
    worker.on('message', (msg: unknown) => {
      if (msg instanceof ArrayBuffer) this.#onResults(msg);
      else if ((msg as { type?: string }).type === 'ws') this.sockets?.fromThread(msg as FromThread);
      else {
        // ready says whether the predictor has a websocket method (websocket/typescript-sockets.ts)
        if ((msg as { websocket?: boolean }).websocket === true) {
          this.sockets ??= new ThreadSockets((m) => worker.postMessage(m));
        }
        this.#onControl(msg as ControlMessage);
      }
    });
    worker.on('error', (err: unknown) => {
      this.#crash = err;
      this.#log(`the predictor thread crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    });
    worker.on('messageerror', (err: unknown) => {
      this.#log(`a message from the predictor thread could not be read: ${String(err)}`);
    });
    worker.on('exit', (code: number) => this.#onExit(code));
    return this.#startPromise;
  }

  send(job: PredictJob): void {
    if (this.#closing || this.#exited) {
      refuse(job, this.#exited ? EXITED_BODY : SHUTDOWN_BODY);
      return;
    }
    this.#jobs.set(job.id, job);
    this.#outbox.push(job);
    if (!this.#flushScheduled && this.#ready) {
      this.#flushScheduled = true;
      setImmediate(this.#flush);
    }
  }

  sendBatch(jobs: PredictJob[]): void {
    if (jobs.length === 0) return;
    if (this.#closing || this.#exited) {
      for (const job of jobs) refuse(job, this.#exited ? EXITED_BODY : SHUTDOWN_BODY);
      return;
    }
    for (const job of jobs) this.#jobs.set(job.id, job);
    if (this.#options.batching) this.#outbox.push(jobs);
    else for (const job of jobs) this.#outbox.push(job);
    if (!this.#flushScheduled && this.#ready) {
      this.#flushScheduled = true;
      setImmediate(this.#flush);
    }
  }

  async shutdown(graceMs: number): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined) {
      // Never started: answer whatever was sent.
      this.#closing = true;
      const jobs = this.#jobs.takeAll();
      this.#outbox = [];
      for (const job of jobs) refuse(job, SHUTDOWN_BODY);
      return;
    }
    if (this.#exited) return;
    if (this.#closing) return this.#exitPromise;
    this.#closing = true;
    const deadline = Date.now() + Math.max(0, graceMs);
    let timer: NodeJS.Timeout | undefined;
    const untilDeadline = () =>
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      });
    if (this.#ready) {
      this.#flush();
      if (this.inFlight > 0) {
        const drained = new Promise<void>((resolve) => {
          this.#drained = resolve;
        });
        await Promise.race([drained, untilDeadline(), this.#exitPromise]);
        clearTimeout(timer);
        this.#drained = undefined;
      }
      if (!this.#exited) {
        // The thread finishes its postPredict calls, then exits by itself.
        worker.postMessage({ type: 'shutdown' });
        await Promise.race([this.#exitPromise, untilDeadline()]);
        clearTimeout(timer);
      }
    }
    if (!this.#exited) {
      await worker.terminate();
      await this.#exitPromise;
    }
  }

  onExit(listener: (exit: WorkerExit) => void): void {
    this.#exitListeners.push(listener);
  }

  // -------------------------------------------------------------------------------------------

  /** Posts every job queued this tick as one message: one transferred buffer. */
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const units = this.#outbox;
    const worker = this.#worker;
    if (units.length === 0 || worker === undefined || this.#exited) return;
    this.#outbox = [];
    const ab = encodeJobs(units, this.#options.batching, this.#sendHeaders);
    worker.postMessage(ab, [ab]);
  };

  #onResults(ab: ArrayBuffer): void {
    const thrown = deliverResults(ab, this.#jobs);
    if (this.#drained !== undefined && this.inFlight === 0) this.#drained();
    if (thrown !== undefined) {
      queueMicrotask(() => {
        throw thrown;
      });
    }
  }

  #onControl(msg: ControlMessage): void {
    if (msg.type === 'streams') {
      for (const m of msg.messages) this.#onStream(m);
    } else if (msg.type === 'ready') {
      this.#ready = true;
      this.#sendHeaders = msg.headers;
      if (msg.verbs !== undefined) this.#verbs = new Set(msg.verbs);
      this.#resolveStart?.();
      if (this.#outbox.length > 0 && !this.#flushScheduled && !this.#exited) {
        this.#flushScheduled = true;
        setImmediate(this.#flush);
      }
    } else if (msg.type === 'init-error') {
      this.#initError = new InitError(msg.message, msg.stack);
      this.#rejectStart?.(this.#initError);
    }
  }

  #onStream(msg: StreamMessage): void {
    const id = msg.id;
    if (msg.op === 'chunk') {
      this.#streams.get(id)?.push(Buffer.from(msg.data));
      return;
    }
    if (msg.op === 'end') {
      const stream = this.#streams.get(id);
      if (stream === undefined) return;
      this.#streams.delete(id);
      stream.finish(msg.error === undefined ? undefined : { error: msg.error });
      if (this.#drained !== undefined && this.inFlight === 0) this.#drained();
      return;
    }
    const worker = this.#worker!;
    const stream = new WorkerStream({
      credit: (n) => worker.postMessage({ type: 'stream-credit', id, n }),
      cancel: () => worker.postMessage({ type: 'stream-cancel', id }),
    });
    this.#streams.set(id, stream);
    const job = this.#jobs.take(id);
    if (job === undefined) return stream.cancel();
    const result: PredictResult = { status: msg.status, kind: msg.kind, body: Buffer.alloc(0), stream };
    if (msg.headers !== undefined) result.headers = msg.headers;
    job.done(result);
  }

  #onExit(code: number): void {
    this.#exited = true;
    this.sockets?.exited();
    this.#outbox = [];
    if (this.#streams.size > 0) {
      const streams = [...this.#streams.values()];
      this.#streams.clear();
      for (const stream of streams) stream.finish({ error: `worker exited (code ${code})` });
    }
    const jobs = this.#jobs.takeAll();
    for (const job of jobs) {
      try {
        refuse(job, EXITED_BODY);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    this.#drained?.();
    const exit: WorkerExit = { code, signal: null };
    if (!this.#ready) {
      const crash = this.#crash;
      this.#initError ??= new InitError(
        crash instanceof Error
          ? crash.message
          : `the predictor thread exited with code ${code} before the predictor was ready`,
        crash instanceof Error ? (crash.stack ?? crash.message) : `exit code ${code}`,
      );
      this.#rejectStart?.(this.#initError);
      exit.initError = this.#initError;
    }
    this.#resolveExit();
    for (const listener of this.#exitListeners) {
      try {
        listener(exit);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  #log(message: string): void {
    const line = JSON.stringify({
      time: new Date().toISOString(),
      level: 'error',
      api: this.#options.api,
      worker: this.#options.index,
      request_id: null,
      message,
    });
    if (this.#extras.log !== undefined) this.#extras.log(line);
    else process.stdout.write(line + '\n');
  }
}

function refuse(job: PredictJob, body: Buffer): void {
  job.done({ status: 503, kind: BodyKind.Json, body });
}
