// The contract between the HTTP front (runtime/server.ts, runtime/dispatcher.ts) and the
// things that host a user's predictor: Python worker processes (workers/python.ts) and
// TypeScript worker threads (workers/typescript.ts). The wire format of the Python side is
// described in runtime/PROTOCOL.md.

import type { CustomMetricRecord } from '../custom-metrics.ts';
import type { WorkerSockets } from '../websocket/types.ts';
import type { ModelsSpec } from '../../operator/api/v1alpha1/index.ts';

/** How the body of a PredictResult is to be labelled by the front. */
export const BodyKind = {
  /** application/json */
  Json: 0,
  /** text/plain; charset=utf-8 */
  Text: 1,
  /** application/octet-stream */
  Bytes: 2,
  /** the result's own headers say it all (a Starlette / web Response) */
  Custom: 3,
  /** a stream of JSON values as Server-Sent Events: text/event-stream (streams only) */
  EventStream: 4,
  /** a stream of JSON values, one per line: application/x-ndjson (streams only) */
  Ndjson: 5,
} as const;
export type BodyKind = (typeof BodyKind)[keyof typeof BodyKind];

/** What a worker answers for one request. */
export interface PredictResult {
  status: number;
  kind: BodyKind;
  /** Only for kind Custom (may be empty): header pairs as the predictor set them. */
  headers?: [string, string][];
  /** Empty when `stream` is set. */
  body: Buffer;
  /** Set when the predictor streams its answer (docs/streaming.md): the body comes from here. */
  stream?: ResultStream;
}

/** How a stream ended: undefined when it ended normally. */
export interface StreamError {
  error: string;
}

/** Where a ResultStream delivers its chunks (the HTTP front). */
export interface StreamSink {
  chunk(data: Buffer): void;
  /** Exactly once, after the last chunk. */
  end(error: StreamError | undefined): void;
}

/**
 * A streamed answer, from its first chunk to its end (runtime/streaming/worker-stream.ts). The
 * producer sends at most a bounded window of bytes the consumer has not credited back.
 */
export interface ResultStream {
  /** Starts delivery; chunks that arrived before are delivered at once. */
  pipe(sink: StreamSink): void;
  /** The consumer got `n` bytes off its hands (written to a client that keeps up). */
  credit(n: number): void;
  /** Nobody wants the rest (the client went away): the producer is stopped; the end still comes. */
  cancel(): void;
  /** Runs once the producer stopped (ended, failed, cancelled or its worker died). */
  onFinish(listener: () => void): void;
}

/** One HTTP request on its way to a predictor. */
export interface PredictJob {
  /** Unique per `cortex serve` process; the frame id on the wire. */
  id: number;
  /** The client's X-Request-ID, when it sent one; logs use it instead of `id`. */
  clientRequestId?: string;
  /** Raw request body; the front never parses it. */
  body: Buffer;
  /** The Content-Type header, as sent (undefined when absent). */
  contentType: string | undefined;
  /** Raw query string without the leading '?', '' when none. */
  query: string;
  /** The HTTP method when it is not POST (only a Python Handler's handle_<verb> gets such jobs). */
  method?: string;
  /** The Accept header asks for text/event-stream: a stream of JSON values becomes Server-Sent Events. */
  eventStream?: boolean;
  /** Node's req.rawHeaders (name, value, name, value...); workers convert only when needed. */
  rawHeaders: string[];
  /** An RPC of a gRPC API (runtime/grpc/front.ts): the frame's whole meta, {"rpc": method, "h": metadata...}. */
  rpc?: RpcMeta;
  /**
   * W3C trace context the predictor runs in (its cortex.predict or cortex.batch span), set only when
   * the replica exports traces (runtime/tracing/); sent to the worker as meta "tp"/"ts" (PROTOCOL.md).
   */
  traceparent?: string;
  tracestate?: string;
  /** The job's spans (runtime/tracing/tracer.ts JobTrace); set only when the replica exports traces. */
  trace?: unknown;
  /** predictor.payloadLogging: the CloudEvent id its request was logged under, when sampled. */
  logId?: string;
  /** Called exactly once with the answer; a worker that dies answers its jobs with 503. */
  done(result: PredictResult): void;
  /** The dispatcher's bookkeeping for this job (set by submit; opaque to everyone else). */
  ticket?: unknown;
}

/** The meta of an RPC's REQUEST frame (runtime/PROTOCOL.md, "gRPC"). */
export interface RpcMeta {
  /** The method's name as the service defines it. */
  rpc: string;
  /** The call's metadata, [key, value] (values of -bin keys base64). */
  h: [string, string][];
  rid?: string;
  peer: string;
  /** Milliseconds left before the client's deadline, when it set one. */
  deadline_ms?: number;
}

/** A gRPC API's .proto, as the Python worker compiles it (runtime/python/cortex_grpc.py). */
export interface GrpcWorkerOptions {
  /** predictor.protobufPath, relative to the project folder. */
  proto: string;
  /** The project's .proto files to compile (it and what it imports), relative to the project folder. */
  files: string[];
  /** <package>.<Service>. */
  service: string;
  /** Where compiled modules are cached (a folder per contents). */
  cacheDir: string;
}

/** What the front tells a worker when creating it (the Python side gets it as JSON). */
export interface WorkerOptions {
  api: string;
  /** Folder of cortex.yaml (absolute). */
  projectDir: string;
  /** Absolute path of the predictor file. */
  predictorPath: string;
  /** predictor.config, passed to the constructor. */
  config: Record<string, unknown>;
  /** Extra import roots (absolute); predictor.python_path. */
  pythonPath: string[];
  /** predictor.env, added to the worker's environment. */
  env: Record<string, string>;
  /** Concurrent predict calls inside this worker (threads_per_process). */
  threads: number;
  /** True when server_side_batching is set: jobs arrive through sendBatch only. */
  batching: boolean;
  /** 0-based worker number, for logs. */
  index: number;
  logLevel: 'debug' | 'info' | 'warning' | 'error';
  /** Python interpreter to use (a cached virtualenv's, or python3). Python workers only. */
  python?: string;
  /** The predictor's metrics_client calls (Python workers; see runtime/custom-metrics.ts). */
  onMetrics?: (records: CustomMetricRecord[]) => void;
  /** predictor.type of a Python worker: python (PythonPredictor) or onnx (ONNXPredictor). Default: python. */
  predictorType?: 'python' | 'onnx';
  /** predictor.models: what the Python worker loads and reloads (runtime/python/cortex_models.py). */
  models?: ModelsSpec;
  /** predictor.protobufPath: the worker serves the RPCs of this service (Python workers). */
  grpc?: GrpcWorkerOptions;
  /**
   * A BatchAPI job (Python workers; runtime/batch/): every job sent is one batch, handed to
   * handle_batch / predict(payload, batch_id); this is the job as submitted, the predictor's job_spec.
   */
  batchJob?: Record<string, unknown>;
}

/** A predictor's __init__ / constructor / init() failed. */
export class InitError extends Error {
  /** Full traceback or stack, for the logs. */
  readonly detail: string;
  constructor(message: string, detail: string) {
    super(message);
    this.name = 'InitError';
    this.detail = detail;
  }
}

export interface WorkerExit {
  code: number | null;
  signal: string | null;
  /** Set when the worker died before READY (init failure). */
  initError?: InitError;
}

export interface PredictorWorker {
  readonly index: number;
  /** Jobs sent and not yet answered. */
  readonly inFlight: number;
  /** Ready, not exited and not shutting down: the dispatcher sends work only to such a worker. */
  readonly accepting: boolean;
  /**
   * A Python Handler's HTTP methods (handle_post → POST...), known once it is ready; undefined
   * for a PythonPredictor or a TypeScript predictor (POST only).
   */
  readonly verbs?: ReadonlySet<string>;
  /** Present once ready when the predictor has a `websocket` method (runtime/websocket/). */
  readonly sockets?: WorkerSockets;
  /** OS pid (Python) or thread id (TypeScript), once started. */
  readonly pid: number | undefined;
  /** Resolves when the predictor finished initialising; rejects with InitError. */
  start(): Promise<void>;
  send(job: PredictJob): void;
  /** server_side_batching: the predictor gets the payloads as one list. */
  sendBatch(jobs: PredictJob[]): void;
  /** Stop taking work, let in-flight jobs finish (at most graceMs), then end. */
  shutdown(graceMs: number): Promise<void>;
  /**
   * Called once when the worker ends for any reason after start() was called. Before the
   * callback runs, every job still in flight has been answered (503, "worker exited").
   */
  onExit(listener: (exit: WorkerExit) => void): void;
}
