// The gRPC front of a replica (predictor.protobufPath, docs/grpc.md): @grpc/grpc-js over HTTP/2
// without TLS (h2c) on the replica's port. Like the HTTP front it never parses a message: the
// service is registered with pass-through (de)serializers, so each call's request bytes go to a
// worker as a REQUEST frame (meta "rpc": the method) through the same dispatcher (admission,
// least-loaded dispatch, timeouts, in-flight counting for autoscaling), and the worker's reply
// bytes go back as they are (runtime/grpc/answer.ts). Beside the API's service: the standard
// health service (grpc.health.v1: SERVING once every worker is ready, NOT_SERVING while draining)
// and server reflection (grpcurl, Postman list the service without the .proto).

import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import client from 'prom-client';
import type { Dispatcher } from '../dispatcher.ts';
import type { RuntimeMetrics } from '../metrics.ts';
import type { JsonLogger } from '../../operator/util/log.ts';
import type { KeyRing } from '../../operator/auth/keys.ts';
import type { AuthMetrics } from '../../operator/auth/gate.ts';
import type { PredictJob, PredictResult, RpcMeta } from '../workers/types.ts';
import type { ProtoService, RpcMethod } from './proto.ts';
import { HTTP_OF_CODE, grpcAnswer, type GrpcAnswer } from './answer.ts';
import { pipeReplies } from './stream.ts';

export interface GrpcFrontOptions {
  api: string;
  service: ProtoService;
  projectDir: string;
  dispatcher: Dispatcher;
  metrics: RuntimeMetrics;
  logger: JsonLogger;
  /** Largest request message accepted (cortex serve --max-body-size); larger: RESOURCE_EXHAUSTED. */
  maxBodyBytes: number;
  /** networking.auth: api_key: the call's authorization metadata (Bearer <key>) is checked. */
  auth?: { keys: KeyRing; metrics: AuthMetrics };
}

type ServerCall = grpc.ServerUnaryCall<Buffer, Buffer> | grpc.ServerWritableStream<Buffer, Buffer>;

const passThrough = (b: Buffer) => b;

export class GrpcFront {
  readonly server: grpc.Server;
  private readonly options: GrpcFrontOptions;
  private readonly health: HealthImplementation;
  private readonly rpcs: client.Counter<'api' | 'grpc_method' | 'grpc_code'>;
  private draining = false;
  private nextId = 0;

  constructor(options: GrpcFrontOptions) {
    this.options = options;
    const { service } = options;
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': options.maxBodyBytes,
      'grpc.max_send_message_length': -1,
    });
    const definition: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const m of service.methods) {
      definition[m.name] = {
        path: m.path,
        requestStream: false,
        responseStream: m.responseStream,
        requestSerialize: passThrough,
        requestDeserialize: passThrough,
        responseSerialize: passThrough,
        responseDeserialize: passThrough,
        originalName: m.name,
      };
      implementation[m.name] = m.responseStream
        ? (call: grpc.ServerWritableStream<Buffer, Buffer>) => this.call(m, call, undefined)
        : (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
            this.call(m, call, callback);
    }
    this.server.addService(definition, implementation);
    this.health = new HealthImplementation({ '': 'NOT_SERVING', [service.fullName]: 'NOT_SERVING' });
    this.health.addToServer(this.server);
    // relative to the include dir, or proto-loader warns that it is not under it
    const pkg = loadSync(path.relative(options.projectDir, service.file), {
      includeDirs: [options.projectDir],
      keepCase: true,
    });
    new ReflectionService(pkg).addToServer(this.server);
    this.rpcs = new client.Counter({
      name: 'cortex_grpc_requests_total',
      help: 'RPCs answered, by method and gRPC status code (each is also in cortex_requests_total as HTTP status).',
      labelNames: ['api', 'grpc_method', 'grpc_code'],
      registers: [options.metrics.registry],
    });
  }

  /** Listens on host:port (0: any free port); resolves with the port. */
  listen(port: number, host: string): Promise<number> {
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) =>
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
  }

  /** The health service's answer for the whole server and for the API's service. */
  setServing(serving: boolean): void {
    const status = serving && !this.draining ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', status);
    this.health.setStatus(this.options.service.fullName, status);
  }

  /** NOT_SERVING, no new calls; calls in flight get up to graceMs. Resolves true if they all finished. */
  drain(graceMs: number): Promise<boolean> {
    this.setServing(false);
    this.draining = true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve(false);
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private call(m: RpcMethod, call: ServerCall, callback: grpc.sendUnaryData<Buffer> | undefined): void {
    const started = performance.now();
    const finish = (answer: GrpcAnswer) => {
      if (answer.initial !== undefined) call.sendMetadata(answer.initial);
      if (callback !== undefined) {
        if (answer.code === grpc.status.OK) callback(null, answer.body, answer.trailers);
        else callback({ code: answer.code, details: answer.details, metadata: answer.trailers });
      } else {
        const stream = call as grpc.ServerWritableStream<Buffer, Buffer>; // its replies were written (stream.ts)
        if (answer.code === grpc.status.OK) stream.end(answer.trailers);
        else stream.emit('error', { code: answer.code, details: answer.details, metadata: answer.trailers });
      }
      const seconds = (performance.now() - started) / 1000;
      this.options.metrics.observeRequest(HTTP_OF_CODE[answer.code] ?? 500, seconds);
      this.rpcs.inc({ api: this.options.api, grpc_method: m.name, grpc_code: grpc.status[answer.code] });
    };
    const refuse = (code: grpc.status, details: string) =>
      finish({ code, details, trailers: new grpc.Metadata(), initial: undefined, body: Buffer.alloc(0) });
    if (this.draining) return refuse(grpc.status.UNAVAILABLE, 'this replica is shutting down; retry');

    const metadata = call.metadata.toJSON();
    const auth = this.options.auth;
    if (auth !== undefined) {
      const header = metadata.authorization?.[0];
      const verdict = auth.keys.check(typeof header === 'string' ? header : undefined);
      auth.metrics.count(this.options.api, verdict);
      if (!verdict.ok) {
        return refuse(
          verdict.status === 429 ? grpc.status.RESOURCE_EXHAUSTED : grpc.status.UNAUTHENTICATED,
          verdict.error,
        );
      }
    }
    const pairs: [string, string][] = [];
    for (const [key, values] of Object.entries(metadata)) {
      if (key === 'authorization' && auth !== undefined) continue; // the predictor never sees the key
      for (const v of values) pairs.push([key, typeof v === 'string' ? v : v.toString('base64')]);
    }
    const rid = metadata['x-request-id']?.[0];
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
    const rpc: RpcMeta = { rpc: m.name, h: pairs, peer: call.getPeer() };
    if (typeof rid === 'string') rpc.rid = rid;
    if (Number.isFinite(deadlineMs)) rpc.deadline_ms = Math.max(0, deadlineMs - Date.now());

    let answered = false;
    const job: PredictJob = {
      id: ++this.nextId,
      clientRequestId: rpc.rid,
      body: call.request,
      contentType: undefined,
      query: '',
      rawHeaders: [],
      rpc,
      done: (result: PredictResult) => {
        if (answered) return;
        answered = true;
        if (call.cancelled) return result.stream?.cancel(); // the client went away; nobody reads the answer
        if (result.stream !== undefined) {
          if (callback === undefined) {
            // a stream's time to first reply and duration, as for HTTP streams (docs/streaming.md)
            const since = () => (performance.now() - started) / 1000;
            const stream = call as grpc.ServerWritableStream<Buffer, Buffer>;
            const end = (answer: GrpcAnswer) => {
              this.options.metrics.observeStream(since());
              finish(answer);
            };
            return pipeReplies(stream, result, end, () => this.options.metrics.observeFirstByte(since()));
          }
          result.stream.cancel(); // a unary RPC answers one message (cortex_grpc.py never streams one)
          return refuse(grpc.status.INTERNAL, 'the worker streamed the answer of a unary RPC');
        }
        finish(grpcAnswer(result));
      },
      ticket: undefined,
    };
    call.on('cancelled', () => {
      if (!answered) this.options.dispatcher.cancel(job);
    });
    if (!this.options.dispatcher.submit(job)) {
      this.options.metrics.reject('over_capacity');
      answered = true;
      refuse(grpc.status.RESOURCE_EXHAUSTED, 'too many requests in flight on this replica (max_replica_concurrency)');
    }
  }
}
