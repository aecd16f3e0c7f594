// The HTTP front of one replica: routes, request limits, response writing, draining.
// The body is collected here (so a slow client never holds a worker) but never parsed:
// decoding happens next to the predictor (PROTOCOL.md).
import { isUtf8 } from 'node:buffer';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from './dispatcher.ts';
import type { JsonLogger } from '../operator/util/log.ts';
import type { RuntimeMetrics } from './metrics.ts';
import { OpenExchanges, type Exchange } from './exchanges.ts';
import { AccessLog } from './access-log.ts';
import { BodyKind, type PredictJob, type PredictResult } from './workers/types.ts';
import { acceptsEventStream, answerStream } from './streaming/http-stream.ts';
import type { KeyRing } from '../operator/auth/keys.ts';
import { admit, withoutAuthorization, type AuthMetrics } from '../operator/auth/gate.ts';
import { SocketFront } from './websocket/front.ts';
import type { RequestObserver } from './observer.ts';

export interface ServerOptions {
  api: string;
  predictorType: string;
  dispatcher: Dispatcher;
  metrics: RuntimeMetrics;
  logger: JsonLogger;
  /** Why the replica cannot take requests now (undefined: it can): /readyz answers 503 with it. */
  notReady(): string | undefined;
  workerSummary(): { size: number; ready: number };
  /** Largest accepted request body; larger → 413. */
  maxBodyBytes: number;
  /** Whole request (headers and body) must arrive within this; otherwise 408. */
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  /**
   * networking.auth: api_key: every prediction needs a valid key (operator/auth/keys.ts); /healthz, /readyz,
   * /metrics and the GET summary stay open for the kubelet and Prometheus. Undefined (auth: none):
   * the check is not on the path at all.
   */
  auth?: { keys: KeyRing; metrics: AuthMetrics };
  /** Traces and payload logging (runtime/observer.ts); undefined when both are off. */
  observer?: RequestObserver;
  /**
   * An AsyncAPI's front (runtime/async/front.ts): POST / queues, GET /<id> answers the record, so the
   * Service in front of a cluster's replicas answers Cortex's async API. `rest`: '' or '/<id>'.
   */
  asyncFront?: (req: http.IncomingMessage, res: http.ServerResponse, rest: string, query: string) => Promise<void>;
}

const contentTypes: Record<number, string> = {
  [BodyKind.Json]: 'application/json',
  [BodyKind.Text]: 'text/plain; charset=utf-8',
  [BodyKind.Bytes]: 'application/octet-stream',
};

export class RuntimeServer {
  readonly http: http.Server;
  private readonly options: ServerOptions;
  /** Open WebSockets (runtime/websocket/front.ts); each counts as in flight. */
  readonly websockets: SocketFront;
  private readonly accessLog: AccessLog;
  private draining = false;
  /** Predict requests not answered yet. */
  private readonly pending = new OpenExchanges();
  private nextId = 0;
  private idle: (() => void) | undefined;
  private readonly observer: RequestObserver | undefined;

  constructor(options: ServerOptions) {
    this.options = options;
    this.observer = options.observer;
    this.accessLog = new AccessLog(options.logger, options.api);
    this.http = http.createServer(
      {
        requestTimeout: options.requestTimeoutMs,
        headersTimeout: Math.min(options.headersTimeoutMs, options.requestTimeoutMs),
        connectionsCheckingInterval: Math.min(1000, options.requestTimeoutMs),
        keepAliveTimeout: 5000,
      },
      (req, res) => this.handle(req, res),
    );
    // A malformed request must never take the process down: answer with a JSON error and close.
    this.http.on('clientError', (error: NodeJS.ErrnoException & { reason?: string }, socket) => {
      if (!socket.writable) return;
      if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
        return rawAnswer(socket, 408, 'the request did not arrive in time (cortex serve --request-timeout)');
      }
      if (error.code === 'HPE_HEADER_OVERFLOW') return rawAnswer(socket, 431, 'request headers too large');
      rawAnswer(socket, 400, `malformed HTTP request: ${error.reason ?? error.message}`);
    });
    // WebSockets (a predictor's websocket method): same auth, limits from the same options
    this.websockets = new SocketFront({
      api: options.api,
      workers: () => options.dispatcher.workers,
      maxSockets: options.dispatcher.maxConcurrency,
      maxPayload: options.maxBodyBytes,
      acceptTimeoutMs: options.requestTimeoutMs,
      logger: options.logger,
      registry: options.metrics.registry,
      auth: options.auth,
    });
    this.http.on('upgrade', (req, socket, head) => this.websockets.upgrade(req, socket, head));
    // Node hands CONNECT to this event and closes the connection when nobody listens.
    this.http.on('connect', (_req: http.IncomingMessage, socket: Duplex) => {
      rawAnswer(socket, 405, 'method CONNECT not allowed', 'Allow: GET, HEAD, POST\r\n');
    });
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve(this.http.address() as AddressInfo);
      });
    });
  }

  /**
   * Readiness fails, the listener closes (new connections are refused), idle keep-alive
   * connections close, and requests in flight get up to graceMs to finish.
   */
  async drain(graceMs: number): Promise<boolean> {
    this.draining = true;
    this.http.close();
    this.http.closeIdleConnections();
    const sockets = this.websockets.drain(graceMs); // closed with 1001 once the grace period is over
    const finished = await new Promise<boolean>((resolve) => {
      if (this.pending.size === 0) return resolve(true);
      const timer = setTimeout(() => resolve(false), graceMs);
      this.idle = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
    if (!finished) await this.answerPending();
    await sockets;
    this.http.closeAllConnections();
    return finished;
  }

  /** The grace period is over: every request still unanswered gets 503 before its connection closes. */
  private async answerPending(): Promise<void> {
    const written: Promise<void>[] = [];
    for (const exchange of this.pending.snapshot()) {
      const { res, job } = exchange;
      this.release(exchange);
      if (job !== undefined) this.options.dispatcher.cancel(job);
      if (res.headersSent || res.destroyed) continue;
      this.options.metrics.observeRequest(503, 0);
      written.push(
        new Promise<void>((resolve) => {
          const body = JSON.stringify({ error: 'this replica shut down before the request was served; retry' });
          res.writeHead(503, {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
            Connection: 'close',
          });
          res.end(body, resolve);
          res.once('close', resolve);
        }),
      );
    }
    await Promise.race([Promise.all(written), new Promise((r) => setTimeout(r, 1000))]);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    const verbs = this.options.dispatcher.verbs; // a Handler's methods; undefined: POST only
    if (this.options.asyncFront !== undefined && !ADMIN_PATHS.has(path)) {
      return this.async(req, res, path === '/' || path === '/predict' ? '' : path, q < 0 ? '' : url.slice(q + 1));
    }
    if (method === 'POST' && verbs === undefined) {
      if (path === '/' || path === '/predict') return this.predict(req, res, q < 0 ? '' : url.slice(q + 1));
      return this.json(res, 404, { error: `no route POST ${path}; predictions go to POST / or POST /predict` });
    }
    if (verbs !== undefined && (path === '/' || path === '/predict')) {
      // A Handler: GET / is handle_get when it has one (HEAD too, without the body), else the summary.
      const verb = method === 'HEAD' ? 'GET' : method;
      if (verbs.has(verb)) return this.predict(req, res, q < 0 ? '' : url.slice(q + 1), verb);
      if (verb !== 'GET') {
        res.setHeader('Allow', handlerAllow(verbs));
        return this.json(res, 405, {
          error: `method ${method} not allowed: the Handler has no handle_${verb.toLowerCase()}`,
        });
      }
    }
    if (method === 'GET' || method === 'HEAD') {
      switch (path) {
        case '/healthz':
          return this.json(res, 200, { status: 'alive' });
        case '/readyz':
          return this.readyz(res);
        case '/metrics':
          return this.metrics(res);
        case '/':
        case '/predict':
        case '/info': // Cortex 0.34-0.35 served the summary at <endpoint>/info
          return this.summary(res);
      }
      return this.json(res, 404, { error: `no route ${req.method} ${path}` });
    }
    if (verbs !== undefined) return this.json(res, 404, { error: `no route ${method} ${path}` });
    res.setHeader('Allow', 'GET, HEAD, POST');
    this.json(res, 405, { error: `method ${req.method} not allowed` });
  }

  private async(req: http.IncomingMessage, res: http.ServerResponse, rest: string, query: string): void {
    if (this.draining) {
      res.setHeader('Connection', 'close');
      return this.json(res, 503, { error: 'this replica is shutting down; retry' });
    }
    const auth = this.options.auth;
    if (auth !== undefined) {
      const verdict = admit(auth.keys, this.options.api, auth.metrics, req, res);
      if (!verdict.ok) return this.options.metrics.observeRequest(verdict.status, 0);
    }
    const started = performance.now();
    void this.options.asyncFront!(req, res, rest, query).finally(() =>
      this.options.metrics.observeRequest(res.statusCode, (performance.now() - started) / 1000),
    );
  }

  /** `verb`: the HTTP method for a Handler's handle_<verb> (undefined: POST, the hot path). */
  private predict(req: http.IncomingMessage, res: http.ServerResponse, query: string, verb?: string): void {
    const started = performance.now();
    const { metrics, maxBodyBytes } = this.options;
    if (this.draining) {
      metrics.reject('draining');
      res.setHeader('Connection', 'close');
      return this.json(res, 503, { error: 'this replica is shutting down; retry' });
    }
    let raw = req.rawHeaders;
    let apiKey: string | undefined;
    const auth = this.options.auth;
    if (auth !== undefined) {
      // refused before the body is read: nothing of it reaches a worker
      const verdict = admit(auth.keys, this.options.api, auth.metrics, req, res);
      if (!verdict.ok) {
        metrics.observeRequest(verdict.status, 0);
        if (this.accessLog.enabled) {
          this.accessLog.answered(
            verdict.status,
            ++this.nextId,
            0,
            verb,
            verdict.status === 429 ? verdict.key : undefined,
          );
        }
        return;
      }
      apiKey = verdict.key;
      raw = withoutAuthorization(raw); // the predictor never sees the key
    }
    let contentType: string | undefined;
    let clientRequestId: string | undefined;
    let declaredLength = -1;
    let eventStream = false;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i];
      if (name.length === 12 && name.toLowerCase() === 'content-type') contentType = raw[i + 1];
      else if (name.length === 6 && name.toLowerCase() === 'accept') eventStream ||= acceptsEventStream(raw[i + 1]);
      else if (name.length === 14 && name.toLowerCase() === 'content-length') declaredLength = Number(raw[i + 1]);
      else if (name.length === 12 && name.toLowerCase() === 'x-request-id') clientRequestId = raw[i + 1];
    }
    if (declaredLength > maxBodyBytes) return this.tooLarge(req, res);

    const exchange = this.pending.open(res);
    if (apiKey !== undefined) exchange.apiKey = apiKey;
    res.once('close', () => {
      // Closed before it was answered: the client went away. A job still queued never runs.
      if (!exchange.open || exchange.streaming) return;
      const job = exchange.job;
      this.release(exchange);
      const dropped = job !== undefined && this.options.dispatcher.cancel(job);
      if (this.observer !== undefined && job !== undefined) this.observer.abandoned(job);
      if (job !== undefined && this.options.logger.enabled('info')) {
        this.options.logger.info(
          `${verb ?? 'POST'} / client closed the connection before the answer` +
            (dropped ? '; dropped from the queue' : ''),
          { request_id: job.clientRequestId ?? String(job.id) },
        );
      }
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let rejected = false;
    req.on('data', (chunk: Buffer) => {
      if (rejected) return;
      size += chunk.length;
      if (size > maxBodyBytes) {
        rejected = true;
        this.release(exchange);
        this.tooLarge(req, res);
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => {
      // The client went away mid-body; there is nobody to answer.
      if (!rejected) {
        rejected = true;
        this.release(exchange);
      }
    });
    req.on('end', () => {
      if (rejected || !exchange.open) return;
      const job: PredictJob = {
        id: ++this.nextId,
        clientRequestId,
        body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size),
        contentType,
        query,
        rawHeaders: raw,
        method: verb === 'POST' ? undefined : verb,
        eventStream,
        done: (result) => this.respond(exchange, job, result, started),
        ticket: undefined,
      };
      exchange.job = job;
      if (this.observer !== undefined) this.observer.arrived(job, verb ?? 'POST', req.url ?? '/', started);
      if (!this.options.dispatcher.submit(job)) {
        metrics.reject('over_capacity');
        this.respond(exchange, job, overCapacity, started);
      }
    });
  }

  private respond(exchange: Exchange, job: PredictJob, result: PredictResult, started: number): void {
    if (this.observer !== undefined) this.observer.answered(job, result);
    if (result.stream !== undefined) return this.respondStream(exchange, job, result, started);
    if (!exchange.open) return; // answered already (grace period over) or the client went away
    const res = exchange.res;
    const { body, status } = result;
    // One writeHead with a flat header list: setHeader() per header costs measurably here.
    const headers: string[] = [];
    if (result.kind === BodyKind.Custom) {
      for (const [name, value] of result.headers ?? []) {
        if (name.length !== 14 || name.toLowerCase() !== 'content-length') headers.push(name, value);
      }
    } else {
      headers.push('Content-Type', contentTypes[result.kind]);
    }
    headers.push('Content-Length', String(body.length));
    if (job.clientRequestId !== undefined) headers.push('X-Request-ID', job.clientRequestId);
    if (this.draining) headers.push('Connection', 'close');
    res.writeHead(status, headers);
    res.end(asSmallText(result));
    const seconds = (performance.now() - started) / 1000;
    this.options.metrics.observeRequest(status, seconds);
    if (this.accessLog.enabled) {
      this.accessLog.answered(
        status,
        job.clientRequestId ?? job.id,
        Math.round(seconds * 1e6) / 1000,
        job.method,
        exchange.apiKey,
      );
    }
    this.release(exchange);
  }

  /** A streamed answer: written as it comes; in flight (and awaited by drain) until it ends. */
  private respondStream(exchange: Exchange, job: PredictJob, result: PredictResult, started: number): void {
    if (!exchange.open || exchange.res.destroyed) return result.stream!.cancel();
    exchange.streaming = true;
    const { metrics, logger } = this.options;
    answerStream(exchange, job, result, {
      started,
      draining: this.draining,
      metrics,
      logger,
      accessLog: this.accessLog,
      release: () => this.release(exchange),
    });
  }

  private release(exchange: Exchange): void {
    if (!this.pending.close(exchange)) return;
    if (this.pending.size === 0 && this.idle !== undefined) this.idle();
  }

  private tooLarge(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.options.metrics.reject('too_large');
    this.options.metrics.observeRequest(413, 0);
    res.setHeader('Connection', 'close');
    this.json(res, 413, {
      error:
        `request body is larger than the limit of ${this.options.maxBodyBytes} bytes ` +
        '(cortex serve --max-body-size)',
    });
    req.resume();
  }

  private readyz(res: http.ServerResponse): void {
    const { size } = this.options.workerSummary();
    const reason = this.draining ? 'shutting down' : this.options.notReady();
    if (reason === undefined) return this.json(res, 200, { status: 'ready', workers: size });
    this.json(res, 503, { status: 'not ready', reason });
  }

  private summary(res: http.ServerResponse): void {
    const { size, ready } = this.options.workerSummary();
    this.json(res, 200, {
      api: this.options.api,
      predictor_type: this.options.predictorType,
      ready: !this.draining && this.options.notReady() === undefined,
      workers: { ready, total: size },
      usage: 'POST a request body to this URL for a prediction',
    });
  }

  private metrics(res: http.ServerResponse): void {
    this.options.metrics.render().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': this.options.metrics.contentType() });
        res.end(text);
      },
      (error: unknown) => this.json(res, 500, { error: `metrics: ${String(error)}` }),
    );
  }

  private json(res: http.ServerResponse, status: number, value: unknown): void {
    const body = JSON.stringify(value);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }
}

/** Up to this size a JSON or text body is handed to Node as a string (see asSmallText). */
const SMALL_TEXT_BYTES = 16 * 1024;

/**
 * Node writes a string body together with the status line and headers in one write, but a
 * Buffer body as a second chunk through cork/writev: ~1-3 µs more per response, a tenth of the
 * front's cost for a small prediction. Only valid UTF-8 becomes a string, so the bytes sent
 * (and Content-Length) stay exactly the worker's.
 */
function asSmallText(result: PredictResult): Buffer | string {
  const { body, kind } = result;
  if ((kind !== BodyKind.Json && kind !== BodyKind.Text) || body.length > SMALL_TEXT_BYTES || !isUtf8(body)) {
    return body;
  }
  return body.toString('utf8');
}

/** The Allow header of a Handler's routes: its methods, and GET and HEAD always (the summary). */
/** Served by the replica itself even when an AsyncAPI's front takes the other paths. */
const ADMIN_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

function handlerAllow(verbs: ReadonlySet<string>): string {
  const allow = new Set(['GET', 'HEAD', ...verbs]);
  return ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => allow.has(m)).join(', ');
}

/** An answer written straight to a socket Node's HTTP parser gave up on (or a CONNECT's). */
function rawAnswer(socket: Duplex, status: number, error: string, extraHeaders = ''): void {
  const body = JSON.stringify({ error });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\n${extraHeaders}` +
      `Connection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

const overCapacity: PredictResult = {
  status: 503,
  kind: BodyKind.Custom,
  headers: [
    ['Content-Type', 'application/json'],
    ['Retry-After', '1'],
  ],
  body: Buffer.from(
    JSON.stringify({ error: 'too many requests in flight on this replica (max_replica_concurrency); retry' }),
  ),
};
