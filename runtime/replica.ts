// One replica of one API, as `cortex serve` and the container image run it: runs dependencies.sh
// and installs Python dependencies, starts the HTTP front (so /healthz answers while predictors
// initialise), starts the workers, and drains on SIGTERM.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AsyncSpec, PredictorSpec, RealtimeApiSpec } from '../operator/api/v1alpha1/index.ts';
import { parseDurationMs, predictorOf } from '../operator/api/v1alpha1/index.ts';
import { DependencyError, prepareDependencies, runsInPython } from './deps.ts';
import { ModelSourceError, prepareModels } from './storage/prepare.ts';
import { StorageError } from './storage/fetch-file.ts';
import { Dispatcher } from './dispatcher.ts';
import { apiLogger, type JsonLogger } from '../operator/util/log.ts';
import { openBroker } from './queue/open.ts';
import type http from 'node:http';
import { startAsyncWorker } from './async/worker.ts';
import { serveAsync, type AsyncFrontOptions } from './async/front.ts';
import { asyncNames } from './async/records.ts';
import { RuntimeMetrics } from './metrics.ts';
import { CustomMetrics } from './custom-metrics.ts';
import { withPreinstalledHint } from './preinstalled.ts';
import { WorkerPool } from './pool.ts';
import { RuntimeServer } from './server.ts';
import { AuthMetrics } from '../operator/auth/gate.ts';
import { KeyDir } from './key-dir.ts';
import { ProtoError } from './grpc/proto.ts';
import { grpcWorkerOptions, startGrpcServing } from './grpc/serve.ts';
import { PythonWorker } from './workers/python.ts';
import { TypeScriptWorker } from './workers/typescript.ts';
import { InitError, type PredictorWorker, type WorkerOptions } from './workers/types.ts';
import { RequestObserver, startTracing } from './observer.ts';
import { TracingConfigError } from './tracing/config.ts';
import { PayloadLog } from './payload-log/payload-log.ts';

export interface ReplicaOptions {
  name: string;
  spec: RealtimeApiSpec;
  /** Folder of cortex.yaml; relative paths in the spec start here. */
  projectDir: string;
  port: number;
  host: string;
  maxBodyBytes: number;
  /** How long in-flight requests get to finish after SIGTERM. */
  gracePeriodMs: number;
  requestTimeoutMs: number;
  /**
   * A prediction not answered this long after its request arrived is answered 504 (queued:
   * dropped; running: its worker is replaced). 0: no limit. Default 60 s.
   */
  predictTimeoutMs?: number;
  /** Kubernetes reads the last words of a failed container from here. */
  terminationLogPath: string;
  /**
   * networking.auth: api_key: the folder of the API's key records (its keys Secret, mounted;
   * key-dir.ts), read again every second. Undefined: no key is asked for.
   */
  apiKeysDir?: string;
  /** A gRPC API's HTTP port (/healthz, /readyz, /metrics; runtime/grpc/admin.ts). Default 15000. */
  adminPort?: number;
  /** An AsyncAPI's queue: redis://HOST:PORT, or the local supervisor's http://127.0.0.1:PORT (runtime/queue). */
  queueUrl?: string;
  /** Where the API's queue is among others on that server: the namespace in a cluster. Default: local. */
  queueScope?: string;
}

export interface Replica {
  /** The HTTP front; undefined for a gRPC API (runtime/grpc/serve.ts). */
  server: RuntimeServer | undefined;
  port: number;
  /** Drain and stop; resolves when everything has ended. */
  stop(): Promise<void>;
}

export async function startReplica(options: ReplicaOptions): Promise<Replica> {
  // ms since the process started (Node's time origin): Node and the CLI's modules loaded
  const entered = performance.now();
  const { spec, name, projectDir } = options;
  const predictor = predictorOf(spec, 'cortex serve');
  const logger = apiLogger(name, predictor.logLevel);
  // Each replica its own TMPDIR (Python's tempfile, Node's os.tmpdir()): replicas of different APIs
  // on one machine shared /tmp, and Cortex's examples write fixed names like model.pkl there.
  // Removed when the replica stops or its process exits. A predictor.env TMPDIR is kept.
  const ownTmp = mkdtempSync(path.join(tmpdir(), `cortex-${name.replace(/[^A-Za-z0-9_.-]/g, '_')}-`));
  const removeTmp = () => rmSync(ownTmp, { recursive: true, force: true });
  process.once('exit', removeTmp);
  const env = predictor.env.TMPDIR !== undefined ? predictor.env : { ...predictor.env, TMPDIR: ownTmp };
  const fatal = (message: string, detail?: string): never => {
    logger.error(message, detail !== undefined ? { detail } : undefined);
    logger.flush();
    writeTerminationMessage(options.terminationLogPath, message);
    process.exit(1);
  };
  if (spec.async && !options.queueUrl) {
    fatal(
      `${name} is an AsyncAPI: it takes its requests from a queue; pass --queue redis://HOST:PORT (CORTEX_QUEUE_URL)`,
    );
  }
  const initFailed = (error: InitError): never =>
    fatal(`predictor failed to initialise: ${withPreinstalledHint(error.message)}`, error.detail);

  let python: string | undefined;
  try {
    python = await prepareDependencies(predictor, projectDir, logger);
  } catch (error) {
    if (error instanceof DependencyError) fatal(error.message);
    throw error;
  }
  const dependenciesReady = performance.now();
  // models from storage URIs, downloaded (or found in the node's cache) before any worker starts:
  // a replica never starts with a model missing or half downloaded
  let models: Awaited<ReturnType<typeof prepareModels>>;
  try {
    models = await prepareModels(predictor.models, {
      liveDir: path.join(ownTmp, 'models'),
      logger,
      onReload: (model, failing) => metrics.modelReloadFailing(model, failing),
    });
  } catch (error) {
    if (error instanceof ModelSourceError) fatal(`model download failed: ${error.message}`);
    if (error instanceof StorageError) fatal(`model download failed: ${error.message}; fix: ${error.fix}`);
    throw error;
  }
  const prepared = performance.now();
  let grpc: ReturnType<typeof grpcWorkerOptions> | undefined;
  try {
    if (predictor.protobufPath !== undefined) grpc = grpcWorkerOptions(projectDir, predictor.protobufPath);
  } catch (error) {
    if (error instanceof ProtoError) fatal(`predictor.protobuf_path: ${error.message} (fix: ${error.fix})`);
    throw error;
  }

  let tracing: Awaited<ReturnType<typeof startTracing>>;
  try {
    tracing = await startTracing(name, { ...process.env, ...predictor.env });
  } catch (error) {
    if (error instanceof TracingConfigError) fatal(`tracing: ${error.message}`);
    throw error;
  }

  const batching = predictor.serverSideBatching;
  const predictTimeoutMs = options.predictTimeoutMs ?? DEFAULT_PREDICT_TIMEOUT_MS;
  const dispatcher = new Dispatcher({
    threadsPerWorker: predictor.threadsPerProcess,
    maxConcurrency: spec.autoscaling.maxReplicaConcurrency,
    batching: batching && {
      maxBatchSize: batching.maxBatchSize,
      intervalMs: parseDurationMs(batching.batchInterval),
    },
    onBatch: (size) => metrics.observeBatch(size),
    timeoutMs: predictTimeoutMs,
    onStuck: (worker) => pool?.replace(worker, `has been running a predict for more than ${predictTimeoutMs / 1000} s`),
    onSend: tracing && ((jobs) => tracing.sent(jobs, batching !== undefined)),
  });
  let pool: WorkerPool | undefined;
  const metrics = new RuntimeMetrics(name, {
    // an open WebSocket counts as in flight (a gRPC API has no HTTP server: its calls are all in the dispatcher)
    inFlight: (): number => dispatcher.inFlight + (server?.websockets.count ?? 0),
    queueLength: () => dispatcher.queueLength,
    workersReady: () => pool?.readyCount ?? 0,
  });
  const customMetrics = new CustomMetrics(metrics.registry, name, logger);
  const payloadLogging = predictor.payloadLogging;
  const payloadLog =
    payloadLogging && new PayloadLog({ api: name, spec: payloadLogging, registry: metrics.registry, logger });
  const observer = tracing || payloadLog ? new RequestObserver(tracing, payloadLog) : undefined;

  const workerOptions = (index: number): WorkerOptions => ({
    api: name,
    projectDir,
    predictorPath: path.resolve(projectDir, predictor.path),
    config: predictor.config,
    pythonPath: predictor.pythonPath !== undefined ? [path.resolve(projectDir, predictor.pythonPath)] : [],
    env,
    threads: predictor.threadsPerProcess,
    batching: batching !== undefined,
    index,
    logLevel: predictor.logLevel,
    python,
    onMetrics: (records) => customMetrics.record(metrics.takeOwn(records)),
    predictorType: predictor.type === 'onnx' ? 'onnx' : 'python',
    models: models?.models ?? predictor.models,
    grpc: grpc?.worker,
  });
  pool = new WorkerPool({
    size: predictor.processesPerReplica,
    create: (index): PredictorWorker =>
      runsInPython(predictor.type)
        ? new PythonWorker(workerOptions(index))
        : new TypeScriptWorker(workerOptions(index)),
    dispatcher,
    logger,
    onRestart: () => metrics.workerRestarted(),
    onFatal: initFailed,
  });

  const keyDir =
    options.apiKeysDir === undefined
      ? undefined
      : new KeyDir({ dir: options.apiKeysDir, warn: (message) => logger.warn(message) });
  const front = {
    api: name,
    auth: keyDir && { keys: keyDir.ring, metrics: new AuthMetrics({ registry: metrics.registry }) },
    predictorType: predictor.type,
    dispatcher,
    metrics,
    logger,
    notReady: () => {
      if (!pool.startedOnce) return `${pool.readyCount} of ${predictor.processesPerReplica} workers ready`;
      if (dispatcher.usableSlots > 0) return undefined;
      return 'no worker can take a request: each is restarting or stuck in a predict past --predict-timeout';
    },
    workerSummary: () => ({ size: predictor.processesPerReplica, ready: pool.readyCount }),
    maxBodyBytes: options.maxBodyBytes,
  };
  // a gRPC API: the gRPC front on the port, /healthz, /readyz and /metrics on the admin port
  const grpcServing =
    grpc &&
    (await startGrpcServing({
      ...front,
      service: grpc.service,
      projectDir,
      host: options.host,
      port: options.port,
      adminPort: options.adminPort ?? 15000,
    }));
  // an AsyncAPI's replica also answers POST / and GET /<id> (the Service in a cluster routes here);
  // its broker fails fast: a POST while Redis is away gets 503, never queued later behind the client
  const asyncFront = spec.async && startAsyncFront(spec.async, options, logger);
  const server = grpcServing
    ? undefined
    : new RuntimeServer({
        ...front,
        ...(asyncFront ? { asyncFront: asyncFront.serve } : {}),
        requestTimeoutMs: options.requestTimeoutMs,
        headersTimeoutMs: Math.min(10_000, options.requestTimeoutMs),
        observer,
      });
  const address = server ? await server.listen(options.port, options.host) : { port: grpcServing!.port };
  const listening = performance.now();
  if (server) {
    logger.info(
      `serving ${name} on http://${options.host}:${address.port} (${predictor.type} predictor, ` +
        `${predictor.processesPerReplica} worker(s) × ${predictor.threadsPerProcess} thread(s))`,
    );
    if (tracing) logger.info(`exporting traces to ${tracing.url} (OTLP/HTTP)`);
    if (payloadLog) logger.info(`payload logging to ${payloadLogging!.url} (CloudEvents, ${payloadLogging!.format})`);
  }

  try {
    await pool.start();
  } catch (error) {
    if (error instanceof InitError) initFailed(error);
    throw error;
  }
  grpcServing?.setServing(true);
  const queue = spec.async && startQueueWork(spec.async, options, dispatcher, predictor, logger);
  // where a cold start's time went (bench/cold-start.ts reads it): a slow start shows which part
  const ms = (x: number) => Math.round(x);
  const ready = performance.now();
  logger.info(`${name} is ready`, {
    startupMs: {
      load: ms(entered),
      dependencies: ms(dependenciesReady - entered),
      models: ms(prepared - dependenciesReady),
      listen: ms(listening - prepared),
      workers: ms(ready - listening),
      total: ms(ready),
    },
  });

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      logger.info(`draining (grace period ${options.gracePeriodMs} ms)`);
      // first stop taking queued requests; one unfinished by then goes to another replica
      if (queue) await queue.stop(options.gracePeriodMs);
      await asyncFront?.close();
      const finished = await (server ?? grpcServing!).drain(options.gracePeriodMs);
      if (!finished) logger.warn('grace period ended with requests still in flight');
      await pool.shutdown(Math.max(1000, options.gracePeriodMs / 10));
      dispatcher.failPending(shuttingDown);
      await observer?.close(1000);
      keyDir?.stop();
      models?.stop();
      removeTmp();
      process.removeListener('exit', removeTmp);
      logger.info('stopped');
      logger.flush();
    })();
    return stopping;
  };
  return { server, port: address.port, stop };
}

export const DEFAULT_PREDICT_TIMEOUT_MS = 60_000;

/** An AsyncAPI's replica takes its requests from the queue (runtime/async/worker.ts). */
function startQueueWork(
  settings: AsyncSpec,
  options: ReplicaOptions,
  dispatcher: Dispatcher,
  predictor: PredictorSpec,
  logger: JsonLogger,
) {
  let lastWarning = 0;
  const url = options.queueUrl!;
  const broker = openBroker(url, {
    onError: (error) => {
      // Redis down: ioredis retries every second; one line per 10 s says so
      if (Date.now() - lastWarning < 10_000) return;
      lastWarning = Date.now();
      logger.warn(`queue ${redactUrl(url)}: ${error.message} (reconnecting)`);
    },
  });
  const worker = startAsyncWorker({
    broker,
    names: asyncNames(options.queueScope ?? 'local', options.name),
    dispatcher,
    concurrency: predictor.processesPerReplica * predictor.threadsPerProcess,
    settings: {
      resultTtlMs: parseDurationMs(settings.resultTtl),
      redeliverAfterMs: parseDurationMs(settings.redeliverAfter),
      maxDeliveries: settings.maxDeliveries,
    },
    logger,
    consumer: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
  });
  logger.info(`taking ${options.name}'s requests from the queue at ${redactUrl(url)}`);
  return {
    async stop(graceMs: number) {
      await Promise.race([worker.stop(), sleep(graceMs)]);
      await broker.close();
    },
  };
}

function startAsyncFront(settings: AsyncSpec, options: ReplicaOptions, logger: JsonLogger) {
  const url = options.queueUrl!;
  let lastWarning = 0;
  const broker = openBroker(url, {
    failFast: true,
    onError: (error) => {
      if (Date.now() - lastWarning < 10_000) return;
      lastWarning = Date.now();
      logger.warn(`async front: queue ${redactUrl(url)}: ${error.message}`);
    },
  });
  const frontOptions: AsyncFrontOptions = {
    broker,
    names: asyncNames(options.queueScope ?? 'local', options.name),
    resultTtlMs: parseDurationMs(settings.resultTtl),
    maxBodyBytes: options.maxBodyBytes,
  };
  return {
    serve: (req: http.IncomingMessage, res: http.ServerResponse, rest: string, query: string) =>
      serveAsync(frontOptions, req, res, rest, query),
    close: () => broker.close(),
  };
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

const shuttingDown = {
  status: 503,
  kind: 0 as const,
  body: Buffer.from('{"error":"this replica shut down before the request was served; retry"}'),
};

function writeTerminationMessage(file: string, message: string): void {
  try {
    writeFileSync(file, message.split('\n').filter(Boolean).at(-1) ?? message);
  } catch {
    // Not running in Kubernetes (or not writable): the log line is the record.
  }
}
