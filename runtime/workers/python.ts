// A Python worker process hosting one PythonPredictor: runtime/python/cortex_host.py, driven
// over binary frames on fds 3 (to the worker) and 4 (from it). See runtime/PROTOCOL.md.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { DEFAULT_RELOAD_INTERVAL, parseDurationMs } from '../../operator/api/v1alpha1/index.ts';
import { JobTable } from './job-table.ts';
import { PythonSockets, WsFromWorker } from '../websocket/python-sockets.ts';
import {
  BodyKind,
  InitError,
  type PredictJob,
  type PredictorWorker,
  type PredictResult,
  type WorkerExit,
  type WorkerOptions,
} from './types.ts';
import type { CustomMetricRecord } from '../custom-metrics.ts';
import {
  EMPTY,
  FrameReader,
  FromWorker,
  MAX_META,
  SHUTDOWN_FRAME,
  batchChunks,
  cancelFrame,
  creditFrame,
  requestHead,
} from './frames.ts';
import { WorkerStream } from '../streaming/worker-stream.ts';

/** Absolute path of the Python host script. */
export const HOST_SCRIPT = fileURLToPath(new URL('../python/cortex_host.py', import.meta.url));

export interface PythonWorkerSpawnOptions {
  /**
   * 'inherit' (default): the worker's JSON log lines go straight to this process's stdout and
   * stderr. 'pipe': they are exposed as `stdout` / `stderr`, which the caller must consume
   * (a full pipe blocks the worker).
   */
  stdio?: 'inherit' | 'pipe';
}

/** What the worker said in its READY frame. */
export interface ReadyInfo {
  /** Request parameters the predictor declares (predict's and post_predict's). */
  params: string[];
  postPredict: boolean;
  pid: number;
  /** A Handler (Cortex 0.34+): the HTTP methods it has a handle_<verb> for; undefined for a PythonPredictor. */
  verbs?: string[];
}

const JSON_CT = 'application/json';

function errorResult(status: number, message: string): PredictResult {
  return { status, kind: BodyKind.Json, body: Buffer.from(JSON.stringify({ error: message })) };
}

export class PythonWorker implements PredictorWorker {
  readonly index: number;
  /** The worker's log stream, when spawned with stdio 'pipe'. */
  stdout: Readable | null = null;
  stderr: Readable | null = null;
  /** Set once the worker is ready. */
  ready: ReadyInfo | undefined;

  #options: WorkerOptions;
  #stdio: 'inherit' | 'pipe';
  #child: ChildProcess | undefined;
  #in: Writable | undefined;
  #jobs = new JobTable();
  /** Streamed answers in progress (STREAM_START seen, STREAM_END not yet), by wire id. */
  #streams = new Map<number, WorkerStream>();
  #queue: Buffer[] = [];
  #queued = 0;
  #scheduled = false;
  #wantQuery = false;
  #wantHeaders = false;
  #verbs: ReadonlySet<string> | undefined;
  /** The predictor's websocket method, when it has one (websocket/python-sockets.ts). */
  #sockets: PythonSockets | undefined;
  #stopping = false;
  #exited = false;
  #exit: WorkerExit | undefined;
  #initError: InitError | undefined;
  #started: Promise<void> | undefined;
  #resolveStart: () => void = () => {};
  #rejectStart: (err: InitError) => void = () => {};
  #listeners: ((exit: WorkerExit) => void)[] = [];
  #exitWaiters: (() => void)[] = [];
  #killTimer: NodeJS.Timeout | undefined;

  constructor(options: WorkerOptions, spawnOptions: PythonWorkerSpawnOptions = {}) {
    this.index = options.index;
    this.#options = options;
    this.#stdio = spawnOptions.stdio ?? 'inherit';
  }

  get inFlight(): number {
    return this.#jobs.size + this.#streams.size;
  }

  get accepting(): boolean {
    return this.ready !== undefined && !this.#exited && !this.#stopping;
  }

  get verbs(): ReadonlySet<string> | undefined {
    return this.#verbs;
  }

  get sockets(): PythonSockets | undefined {
    return this.#sockets;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  start(): Promise<void> {
    if (this.#started) return this.#started;
    this.#started = new Promise<void>((resolve, reject) => {
      this.#resolveStart = resolve;
      this.#rejectStart = reject;
    });
    const o = this.#options;
    const config = {
      api: o.api,
      project_dir: o.projectDir,
      predictor_path: o.predictorPath,
      config: o.config,
      python_path: o.pythonPath,
      threads: o.threads,
      batching: o.batching,
      worker: o.index,
      log_level: o.logLevel,
      predictor_type: o.predictorType ?? 'python',
      models: o.models && {
        ...o.models,
        reloadIntervalSeconds: parseDurationMs(o.models.reloadInterval ?? DEFAULT_RELOAD_INTERVAL) / 1000,
      },
      grpc: o.grpc && { proto: o.grpc.proto, files: o.grpc.files, service: o.grpc.service, cache_dir: o.grpc.cacheDir },
      batch_job: o.batchJob,
    };
    const python = o.python ?? 'python3';
    const log = this.#stdio;
    const child = spawn(python, ['-u', HOST_SCRIPT], {
      stdio: ['ignore', log, log, 'pipe', 'pipe'],
      env: {
        ...process.env,
        PYTHONUNBUFFERED: '1',
        ...o.env,
        CORTEX_WORKER_CONFIG: JSON.stringify(config),
      },
    });
    this.#child = child;
    this.stdout = child.stdout;
    this.stderr = child.stderr;
    const input = child.stdio[3] as Writable;
    const output = child.stdio[4] as Readable;
    this.#in = input;
    input.on('error', () => {}); // EPIPE once the worker is gone: 'close' handles it
    output.on('error', () => {});
    const reader = new FrameReader(this.#onFrame);
    output.on('data', (chunk: Buffer) => reader.push(chunk));
    child.on('error', (err) => {
      // Spawning failed (no such interpreter...): there will be no process to wait for.
      if (child.pid === undefined) {
        this.#initError ??= new InitError(`could not start ${python}: ${err.message}`, err.stack ?? err.message);
        this.#finish(null, null);
      }
    });
    child.on('close', (code, signal) => this.#finish(code, signal));
    return this.#started;
  }

  send(job: PredictJob): void {
    const refusal = this.#refusal();
    if (refusal) return job.done(refusal);
    const meta = this.#meta(job);
    if (meta.length > MAX_META) return job.done(errorResult(431, 'request headers too large'));
    const id = job.id >>> 0; // u32 on the wire: wraps after 2^32 requests, long after any job ended
    this.#jobs.set(id, job);
    this.#write(requestHead(id, meta.length, job.body.length), 11);
    if (meta.length) this.#write(meta, meta.length);
    this.#write(job.body, job.body.length);
  }

  sendBatch(jobs: PredictJob[]): void {
    const refusal = this.#refusal();
    const metas: Buffer[] = [];
    const sent: PredictJob[] = [];
    for (const job of jobs) {
      if (refusal) {
        job.done(refusal);
        continue;
      }
      const meta = this.#meta(job);
      if (meta.length > MAX_META) {
        job.done(errorResult(431, 'request headers too large'));
        continue;
      }
      this.#jobs.set(job.id >>> 0, job);
      metas.push(meta);
      sent.push(job);
    }
    for (let i = 0; i < sent.length; i += 0xffff) {
      for (const chunk of batchChunks(sent.slice(i, i + 0xffff), metas.slice(i, i + 0xffff))) {
        this.#write(chunk, chunk.length);
      }
    }
  }

  shutdown(graceMs: number): Promise<void> {
    const child = this.#child;
    if (!child || this.#exited) return Promise.resolve();
    this.#stopping = true;
    const done = new Promise<void>((resolve) => this.#exitWaiters.push(resolve));
    if (this.#killTimer === undefined) {
      this.#flush();
      this.#in?.end(SHUTDOWN_FRAME);
      this.#killTimer = setTimeout(() => child.kill('SIGKILL'), Math.max(0, graceMs));
    }
    return done;
  }

  onExit(listener: (exit: WorkerExit) => void): void {
    if (this.#exit) {
      const exit = this.#exit;
      queueMicrotask(() => listener(exit));
    } else {
      this.#listeners.push(listener);
    }
  }

  #refusal(): PredictResult | undefined {
    if (this.#exited) return errorResult(503, 'worker exited');
    if (this.#stopping) return errorResult(503, 'worker is shutting down');
    if (!this.ready) return errorResult(503, 'worker is not ready');
    return undefined;
  }

  /** Empty for the common case; otherwise {"ct","q","h","rid","m","sse","tp","ts"} as needed (PROTOCOL.md). */
  #meta(job: PredictJob): Buffer {
    if (job.rpc !== undefined) return Buffer.from(JSON.stringify(job.rpc)); // a gRPC call (cortex_grpc.py)
    const ct = job.contentType;
    const q = this.#wantQuery && job.query !== '';
    const rid = job.clientRequestId !== undefined;
    const m = job.method;
    const sse = job.eventStream === true;
    const tp = job.traceparent; // set only when the replica exports traces
    if (ct === JSON_CT && !q && !this.#wantHeaders && !rid && m === undefined && !sse && tp === undefined) {
      return EMPTY;
    }
    const meta: {
      ct?: string;
      q?: string;
      h?: [string, string][];
      rid?: string;
      m?: string;
      sse?: 1;
      tp?: string;
      ts?: string;
    } = {};
    if (ct !== JSON_CT) meta.ct = ct ?? '';
    if (q) meta.q = job.query;
    if (this.#wantHeaders) {
      const raw = job.rawHeaders;
      const pairs: [string, string][] = new Array(raw.length >> 1);
      for (let i = 0; i + 1 < raw.length; i += 2) pairs[i >> 1] = [raw[i], raw[i + 1]];
      meta.h = pairs;
    }
    if (rid) meta.rid = job.clientRequestId;
    if (m !== undefined) meta.m = m;
    if (sse) meta.sse = 1;
    if (tp !== undefined) {
      meta.tp = tp;
      if (job.tracestate !== undefined) meta.ts = job.tracestate;
    }
    return Buffer.from(JSON.stringify(meta));
  }

  /** Queues bytes for fd 3; everything queued in one event-loop turn goes out in one write. */
  #write(chunk: Buffer, length: number): void {
    this.#queue.push(chunk);
    this.#queued += length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  #flush = (): void => {
    this.#scheduled = false;
    const queue = this.#queue;
    if (queue.length === 0 || !this.#in || this.#exited || this.#in.writableEnded) return;
    const data = queue.length === 1 ? queue[0] : Buffer.concat(queue, this.#queued);
    this.#queue = [];
    this.#queued = 0;
    this.#in.write(data);
  };

  #onFrame = (type: number, buf: Buffer, start: number, end: number): void => {
    if (type === FromWorker.StreamChunk) {
      this.#streams.get(buf.readUInt32LE(start))?.push(buf.subarray(start + 4, end));
    } else if (type === FromWorker.StreamStart) {
      this.#streamStarted(buf, start, end);
    } else if (type === FromWorker.StreamEnd) {
      const id = buf.readUInt32LE(start);
      const stream = this.#streams.get(id);
      if (stream === undefined) return;
      this.#streams.delete(id);
      const ok = buf[start + 4] === 1;
      stream.finish(
        ok
          ? undefined
          : (JSON.parse(buf.toString('utf8', start + 5, end) || '{"error":"stream failed"}') as { error: string }),
      );
    } else if (type === FromWorker.Response) {
      const id = buf.readUInt32LE(start);
      const job = this.#jobs.take(id);
      if (job === undefined) return;
      const kind = buf[start + 6] as BodyKind;
      const bodyStart = start + 9 + buf.readUInt16LE(start + 7);
      const result: PredictResult = { status: buf.readUInt16LE(start + 4), kind, body: buf.subarray(bodyStart, end) };
      if (kind === BodyKind.Custom) {
        result.headers = bodyStart > start + 9 ? JSON.parse(buf.toString('utf8', start + 9, bodyStart)) : [];
      }
      job.done(result);
    } else if (type === FromWorker.Ready) {
      const info = JSON.parse(buf.toString('utf8', start, end)) as {
        params: string[];
        post_predict: boolean;
        pid: number;
        verbs?: string[];
        websocket?: boolean;
      };
      if (info.websocket === true) this.#sockets = new PythonSockets((chunk) => this.#write(chunk, chunk.length));
      this.ready = { params: info.params, postPredict: info.post_predict, pid: info.pid };
      if (info.verbs !== undefined) {
        this.ready.verbs = info.verbs;
        this.#verbs = new Set(info.verbs);
      }
      this.#wantQuery = info.params.includes('query_params');
      this.#wantHeaders = info.params.includes('headers');
      this.#resolveStart();
    } else if (type >= WsFromWorker.Send && type <= WsFromWorker.Accept) {
      this.#sockets?.onFrame(type, buf, start, end);
    } else if (type === FromWorker.Metrics) {
      this.#options.onMetrics?.(JSON.parse(buf.toString('utf8', start, end)) as CustomMetricRecord[]);
    } else if (type === FromWorker.InitError) {
      const info = JSON.parse(buf.toString('utf8', start, end)) as { message: string; traceback: string };
      this.#initError = new InitError(info.message, info.traceback);
      this.#rejectStart(this.#initError);
    }
  };

  /** STREAM_START: `u32 id, u16 status, u8 kind, u16 hdrLen, hdr` (runtime/PROTOCOL.md). */
  #streamStarted(buf: Buffer, start: number, end: number): void {
    const id = buf.readUInt32LE(start);
    const job = this.#jobs.take(id);
    const hdrEnd = start + 9 + buf.readUInt16LE(start + 7);
    const kind = buf[start + 6] as BodyKind;
    const stream = new WorkerStream({
      credit: (n) => this.#write(creditFrame(id, n), 13),
      cancel: () => this.#write(cancelFrame(id), 9),
    });
    this.#streams.set(id, stream);
    if (job === undefined) return stream.cancel(); // cannot happen: a stream starts once per job
    const result: PredictResult = { status: buf.readUInt16LE(start + 4), kind, body: EMPTY, stream };
    if (hdrEnd > start + 9) result.headers = JSON.parse(buf.toString('utf8', start + 9, Math.min(hdrEnd, end)));
    job.done(result);
  }

  #finish(code: number | null, signal: string | null): void {
    if (this.#exited) return;
    this.#exited = true;
    clearTimeout(this.#killTimer);
    this.#queue = [];
    this.#queued = 0;
    this.#in?.destroy();
    this.#sockets?.exited(); // its sockets close with 1011
    const exit: WorkerExit = { code, signal };
    if (!this.ready) {
      const how = signal ? `signal ${signal}` : `code ${code}`;
      exit.initError = this.#initError ?? new InitError(`worker exited before it was ready (${how})`, '');
      this.#rejectStart(exit.initError);
    }
    this.#exit = exit;
    if (this.#jobs.size > 0) {
      const gone = errorResult(503, `worker exited (${signal ? `signal ${signal}` : `code ${code}`})`);
      const jobs = this.#jobs.takeAll();
      for (const job of jobs) job.done({ ...gone });
    }
    if (this.#streams.size > 0) {
      const how = `worker exited (${signal ? `signal ${signal}` : `code ${code}`})`;
      const streams = [...this.#streams.values()];
      this.#streams.clear();
      for (const stream of streams) stream.finish({ error: how });
    }
    for (const listener of this.#listeners.splice(0)) listener(exit);
    for (const resolve of this.#exitWaiters.splice(0)) resolve();
  }
}
