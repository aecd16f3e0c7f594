// `cortex proxy`: the front of a pod API (Cortex 0.36-0.42's container format, spec.pod). The
// user's containers serve HTTP on pod.port; this process listens on the replica's port and
// forwards every request, any method and path, to 127.0.0.1:<pod.port>, with Cortex's limits:
// at most pod.maxConcurrency requests are inside the container at once, pod.maxQueueLength more
// wait here in arrival order, and any beyond get 503 at once. Bodies stream through both ways
// (a queued request's body is not read until it is admitted: the client is held by TCP), and
// answers stream: a streamed answer passes chunk by chunk, a slow client slows the container
// (pipe: backpressure), and a client that goes away closes the connection to the container.
//
// The admin port (never the traffic port, so that every path of the user's server stays
// reachable) answers /healthz, /readyz (the container accepts connections) and /metrics with
// the runtime's series (runtime/metrics.ts): the metrics adapter, the HPA and scale to zero read
// cortex_in_flight_requests and cortex_requests_total from a proxy as from `cortex serve`.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { PROXY_PROBE_HEADER as PROBE_HEADER } from '../operator/api/v1alpha1/pod-types.ts';
import type { JsonLogger } from '../operator/util/log.ts';
import { Deque } from './deque.ts';
import { RuntimeMetrics } from './metrics.ts';
import type { KeyRing } from '../operator/auth/keys.ts';
import { admit, AuthMetrics } from '../operator/auth/gate.ts';
import type { Duplex } from 'node:stream';
import { responseFor, tunnel } from '../operator/util/upgrade.ts';

export interface ProxyOptions {
  api: string;
  host: string;
  /** Where clients (the Service) send requests. */
  port: number;
  /** /healthz, /readyz, /metrics. */
  adminPort: number;
  /** pod.port: where the user's container listens, on 127.0.0.1 (same pod, same network). */
  upstreamPort: number;
  /** pod.maxConcurrency: requests inside the container at once. */
  maxConcurrency: number;
  /** pod.maxQueueLength: requests waiting here beyond maxConcurrency before 503. */
  maxQueueLength: number;
  logger: JsonLogger;
  /**
   * networking.auth: api_key: every request needs a valid key before it is queued (operator/auth/keys.ts);
   * the Authorization header is not forwarded. Undefined (auth: none): nothing is checked.
   */
  auth?: { keys: KeyRing };
}

/** One admitted request, from arrival to its answer. */
interface Exchange {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly started: number;
  state: 'queued' | 'active' | 'done';
  upstream?: http.ClientRequest;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1): meaningful for one connection only, never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
]);

export class RequestProxy {
  readonly metrics: RuntimeMetrics;
  private readonly options: ProxyOptions;
  private readonly traffic: http.Server;
  private readonly admin: http.Server;
  private readonly agent = new http.Agent({ keepAlive: true });
  private readonly queue = new Deque<Exchange>();
  /** Admitted and not answered (queued or active): the autoscaling signal. */
  private readonly open = new Set<Exchange>();
  /** Upgraded connections (WebSockets) joined to the container: in flight, apart from the request slots. */
  private readonly sockets = new Set<Duplex>();
  private active = 0;
  private queued = 0;
  private draining = false;
  /** The grace period is over: nothing more is forwarded. */
  private stopped = false;
  private upstreamUp = false;
  private idle: (() => void) | undefined;
  private readonly authMetrics: AuthMetrics | undefined;

  constructor(options: ProxyOptions) {
    this.options = options;
    this.metrics = new RuntimeMetrics(options.api, {
      inFlight: () => this.inFlight,
      queueLength: () => this.queued,
      // a proxy has no workers: 1 while the user's container accepts connections
      workersReady: () => (this.upstreamUp ? 1 : 0),
    });
    if (options.auth) this.authMetrics = new AuthMetrics({ registry: this.metrics.registry });
    // No request timeout: a queued request's body is only read once admitted, which may be long
    // after its headers arrived; headers must still arrive promptly.
    this.traffic = http.createServer(
      { requestTimeout: 0, headersTimeout: 10_000, keepAliveTimeout: 5000 },
      (req, res) => this.handle(req, res),
    );
    this.admin = http.createServer((req, res) => this.handleAdmin(req, res));
    this.traffic.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(req, socket, head),
    );
  }

  /** Requests admitted and WebSockets open. */
  get inFlight(): number {
    return this.open.size + this.sockets.size;
  }

  get queueLength(): number {
    return this.queued;
  }

  async listen(): Promise<{ port: number; adminPort: number }> {
    const listen = (server: http.Server, port: number) =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, this.options.host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    const adminPort = await listen(this.admin, this.options.adminPort);
    const port = await listen(this.traffic, this.options.port);
    return { port, adminPort };
  }

  /** Stops taking requests, lets admitted ones finish for up to graceMs, then answers the rest 503. */
  async drain(graceMs: number): Promise<boolean> {
    this.draining = true;
    this.traffic.close();
    this.traffic.closeIdleConnections();
    const finished = await new Promise<boolean>((resolve) => {
      if (this.inFlight === 0) return resolve(true);
      const timer = setTimeout(() => resolve(false), graceMs);
      this.idle = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
    this.stopped = true;
    for (const exchange of [...this.open]) {
      exchange.upstream?.destroy();
      this.answer(exchange, 503, 'this replica shut down before the request was answered; retry');
    }
    for (const socket of this.sockets) socket.destroy(); // the container got SIGTERM too and closes its own
    this.traffic.closeAllConnections();
    this.agent.destroy();
    await new Promise<void>((resolve) => this.admin.close(() => resolve()));
    this.admin.closeAllConnections();
    return finished;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    // The activator confirms a waking replica on its traffic port (what it knows of a pod is its
    // IP and the runtime's port); only its marked probe is answered here, any other /readyz is the
    // user's.
    if (req.headers[PROBE_HEADER] === 'readiness' && req.url === '/readyz') {
      req.resume();
      return this.readiness((status, value) => json(res, status, value));
    }
    const started = performance.now();
    const { maxConcurrency, maxQueueLength } = this.options;
    if (this.draining) {
      this.metrics.reject('draining');
      res.setHeader('Connection', 'close');
      return this.refuse(res, started, 'this replica is shutting down; retry');
    }
    const keys = this.options.auth?.keys;
    if (keys !== undefined && !admit(keys, this.options.api, this.authMetrics!, req, res).ok) return;
    if (this.active >= maxConcurrency && this.queued >= maxQueueLength) {
      this.metrics.reject('over_capacity');
      res.setHeader('Retry-After', '1');
      return this.refuse(
        res,
        started,
        `too many requests: ${this.active} in progress and ${this.queued} queued on this replica ` +
          `(pod.max_concurrency ${maxConcurrency}, pod.max_queue_length ${maxQueueLength}); retry`,
      );
    }
    const exchange: Exchange = { req, res, started, state: 'queued' };
    this.open.add(exchange);
    res.once('close', () => this.closed(exchange));
    if (this.active < maxConcurrency) this.forward(exchange);
    else {
      this.queued++;
      this.queue.push(exchange);
    }
  }

  private forward(exchange: Exchange): void {
    const { req, res } = exchange;
    exchange.state = 'active';
    this.active++;
    const upstream = http.request({
      host: '127.0.0.1',
      port: this.options.upstreamPort,
      method: req.method,
      path: req.url,
      headers: endToEnd(req.rawHeaders, this.options.auth !== undefined),
      agent: this.agent,
    });
    exchange.upstream = upstream;
    upstream.on('response', (answer) => {
      this.upstreamUp = true;
      if (exchange.state === 'done') return void answer.resume();
      res.writeHead(answer.statusCode ?? 502, endToEndList(answer.rawHeaders));
      // a streamed answer's headers go at once, not with a first chunk that may come much later
      if (answer.headers['content-length'] === undefined) res.flushHeaders();
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (exchange.state === 'done') return;
      if (error.code === 'ECONNREFUSED') this.upstreamUp = false;
      if (res.headersSent) return void res.destroy(); // cut mid-body: the client sees a truncated answer
      this.options.logger.warn(`${req.method} ${req.url}: the container did not answer: ${error.message}`);
      this.answer(
        exchange,
        502,
        `the API's container did not answer on port ${this.options.upstreamPort}: ${error.code ?? error.message}`,
      );
    });
    req.pipe(upstream);
  }

  /** The response closed: answered, or the client went away. Frees its slot or queue place. */
  private closed(exchange: Exchange): void {
    const { res, req } = exchange;
    const wasQueued = exchange.state === 'queued';
    if (exchange.state !== 'done') {
      if (exchange.state === 'active') this.active--;
      else this.queued--; // its queue entry is skipped when reached
      exchange.state = 'done';
      exchange.upstream?.destroy();
    }
    if (res.writableFinished) {
      this.metrics.observeRequest(res.statusCode, (performance.now() - exchange.started) / 1000);
    } else {
      this.options.logger.info(
        `${req.method} ${req.url}: the client closed the connection before the answer` +
          (wasQueued ? ' (it was queued; dropped from the queue)' : ''),
      );
    }
    this.open.delete(exchange);
    this.next();
    if (this.inFlight === 0 && this.idle !== undefined) this.idle();
  }

  /**
   * A WebSocket (or any upgrade): key-checked like a request, then joined to the container byte
   * for byte (operator/util/upgrade.ts). It counts in flight while open but holds no
   * pod.max_concurrency slot: a long-lived socket must not starve requests.
   */
  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const res = responseFor(req, socket);
    if (this.draining) return json(res, 503, { error: 'this replica is shutting down; retry' });
    const keys = this.options.auth?.keys;
    if (keys !== undefined && !admit(keys, this.options.api, this.authMetrics!, req, res).ok) return;
    if (head.length > 0) socket.unshift(head);
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      if (this.inFlight === 0 && this.idle !== undefined) this.idle();
    });
    const target = {
      host: '127.0.0.1',
      port: this.options.upstreamPort,
      headers: endToEnd(req.rawHeaders, keys !== undefined),
    };
    void tunnel(req, res, target).then((outcome) => {
      if (outcome !== 'unreachable') return;
      json(res, 502, { error: `the API's container did not answer on port ${this.options.upstreamPort}` });
    });
  }

  /** Admits queued requests, oldest first, while there are free slots. */
  private next(): void {
    while (!this.stopped && this.active < this.options.maxConcurrency) {
      const waiting = this.queue.shift();
      if (waiting === undefined) return;
      if (waiting.state !== 'queued') continue; // its client went away
      this.queued--;
      this.forward(waiting);
    }
  }

  /** Ends an admitted request with a JSON error (when nothing has been sent yet). */
  private answer(exchange: Exchange, status: number, error: string): void {
    const { res } = exchange;
    if (res.headersSent || res.destroyed) return void res.destroy();
    const body = JSON.stringify({ error });
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  /** Refuses a request that was never admitted: counted, not in flight. */
  private refuse(res: http.ServerResponse, started: number, error: string): void {
    const body = JSON.stringify({ error });
    res.writeHead(503, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    this.metrics.observeRequest(503, (performance.now() - started) / 1000);
    // the request's body is not wanted; reading it lets a keep-alive connection be reused
    res.req.resume();
  }

  private readiness(answer: (status: number, value: unknown) => void): void {
    if (this.draining) return answer(503, { status: 'not ready', reason: 'shutting down' });
    void this.probeUpstream().then((reason) =>
      reason === undefined ? answer(200, { status: 'ready' }) : answer(503, { status: 'not ready', reason }),
    );
  }

  private handleAdmin(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return json(res, 405, { error: `method ${req.method} not allowed` });
    }
    switch (path) {
      case '/healthz':
        return json(res, 200, { status: 'alive' });
      case '/readyz':
        return this.readiness((status, value) => json(res, status, value));
      case '/metrics':
        return void this.metrics.render().then(
          (text) => {
            res.writeHead(200, { 'Content-Type': this.metrics.contentType() });
            res.end(text);
          },
          (error: unknown) => json(res, 500, { error: `metrics: ${String(error)}` }),
        );
    }
    json(res, 404, { error: `no route ${path} (the admin port has /healthz, /readyz and /metrics)` });
  }

  /** Whether the user's container accepts connections on pod.port: undefined when it does, else why not. */
  private probeUpstream(): Promise<string | undefined> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port: this.options.upstreamPort });
      const done = (reason: string | undefined) => {
        socket.destroy();
        this.upstreamUp = reason === undefined;
        resolve(reason);
      };
      socket.setTimeout(1000, () => done(`nothing answered on port ${this.options.upstreamPort} within 1 s`));
      socket.once('connect', () => done(undefined));
      socket.once('error', (error: NodeJS.ErrnoException) =>
        done(`the container does not accept connections on port ${this.options.upstreamPort} (${error.code})`),
      );
    });
  }
}

function json(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** A request's headers without the hop-by-hop ones, as http.request takes them (repeated names kept). */
function endToEnd(raw: string[], dropAuthorization: boolean): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(name) || (dropAuthorization && name === 'authorization')) continue; // the key stays here
    const seen = headers[name];
    headers[name] = seen === undefined ? raw[i + 1] : [...(Array.isArray(seen) ? seen : [seen]), raw[i + 1]];
  }
  return headers;
}

/** A response's headers without the hop-by-hop ones, as a flat list for writeHead. */
function endToEndList(raw: string[]): string[] {
  const list: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (!HOP_BY_HOP.has(raw[i].toLowerCase())) list.push(raw[i], raw[i + 1]);
  }
  return list;
}
