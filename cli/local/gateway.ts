// The local environment's front door: one port, every API at its endpoint, like Cortex's load
// balancer. A request for /iris-classifier/... goes to one of that API's ready replicas (the
// one with the fewest requests in flight), with the endpoint stripped: the replica sees POST /.
//
// - While an API has no ready replica (starting, restarting) a request is held up to holdMs
//   rather than failed.
// - The body is read first, so a request that never reached a predictor can be sent again:
//   connection refused, a reset of a reused keep-alive connection by a draining replica, or
//   the 503 of a replica that started draining. That is what makes a rolling update lose no
//   request. Nothing else is sent twice: a replica that fails while it holds a request gets
//   the client a 502, since its predictor may have run it.
// - Answers stream: each chunk of a replica's answer is passed on as it comes (a streaming
//   predictor's events reach the client as they are yielded), and a client that reads slowly
//   slows the replica through TCP (pipe: nothing piles up here). A client that goes away closes
//   the connection to the replica, which stops the predictor (docs/streaming-hops.md).
// It knows nothing about processes: a RouteTable says where things are. Which replica takes a
// request, and the proxying to it, are cli/local/replica-pool.ts.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { ShadowSender, pickWeighted, type Split } from './splitter.ts';
import { isWebSocketUpgrade, responseFor, tunnel } from '../../operator/util/upgrade.ts';
import { serveAsync, type AsyncFrontOptions } from '../../runtime/async/front.ts';
import type { JobFront } from './gateway-jobs.ts';
import { hopByHop, json, readBody } from './gateway-http.ts';
import { ReplicaPool, type Backend } from './replica-pool.ts';

// Where they were before cli/local/replica-pool.ts and cli/local/gateway-http.ts took them.
export type { Backend };
export { json, readBody };

export interface RouteTable {
  /**
   * The API serving `pathname`, by longest endpoint prefix on a path-segment boundary; for a
   * TrafficSplitter's endpoint, its split (then `api` is the splitter's name).
   */
  match(pathname: string): { api: string; endpoint: string; split?: Split } | undefined;
  /** The replicas that take new requests now. */
  backends(api: string): Backend[];
  /** Whether the supervisor is draining a replica (its 503s are retried elsewhere). */
  isLeaving(id: string): boolean;
  /**
   * Why `api` has no ready replica, for the 503 a held request finally gets. Clients read it:
   * a generic reason, never a replica's error (it can hold secrets).
   */
  unavailableReason(api: string): string;
  /** Why `api` will not have a ready replica without a new deploy (then no request is held). */
  down(api: string): string | undefined;
  /** Every API with its endpoint (for the 404 of an unknown path). */
  endpoints(): { api: string; endpoint: string }[];
}

/**
 * networking.auth in front of an API (cli/local/gateway-auth.ts): 'open' (auth: none), 'allowed'
 * (a valid key: its Authorization header is not passed on) or 'refused' (answered 401/429 already).
 */
export type Authorize = (api: string, req: http.IncomingMessage, res: http.ServerResponse) => AuthOutcome;
export type AuthOutcome = 'open' | 'allowed' | 'refused';

export interface GatewayOptions {
  /** How long a request waits for a ready replica. */
  holdMs: number;
  /** Largest request body (413 above). */
  maxBodyBytes: number;
  /** Attempts per request when a replica refuses it because it is going away. */
  maxAttempts?: number;
  /** Checks API keys; absent: every API is open. */
  authorize?: Authorize;
  /** An AsyncAPI's front (runtime/async/front.ts): its requests are queued, not proxied. */
  asyncFront?: (api: string) => AsyncFrontOptions | undefined;
  /** BatchAPIs' and TaskAPIs' endpoints (cli/local/gateway-jobs.ts): submit, status and stop of jobs. */
  jobs?: JobFront;
}

/** Matches `endpoint` against `pathname`: '/iris' serves '/iris', '/iris/', '/iris/predict', not '/irises'. */
export function stripEndpoint(endpoint: string, pathname: string): string | undefined {
  if (endpoint === '/') return pathname;
  if (pathname === endpoint) return '/';
  if (pathname.startsWith(endpoint + '/')) return pathname.slice(endpoint.length);
  return undefined;
}

export class Gateway {
  private readonly routes: RouteTable;
  private readonly options: Required<Omit<GatewayOptions, 'authorize' | 'asyncFront' | 'jobs'>>;
  private readonly asyncFront: GatewayOptions['asyncFront'];
  private readonly jobs: JobFront | undefined;
  private readonly authorize: Authorize | undefined;
  private readonly server: http.Server;
  /** The replicas: which one takes a request, and the proxying to it. */
  private readonly pool: ReplicaPool;
  /** Upgraded connections (WebSockets): Node's server no longer tracks them, close() ends them. */
  private readonly upgraded = new Set<Duplex>();
  private listening: AddressInfo | undefined;
  /** Copies for the shadows of TrafficSplitters (cli/local/splitter.ts). */
  readonly shadows = new ShadowSender();

  constructor(routes: RouteTable, options: GatewayOptions) {
    this.routes = routes;
    this.pool = new ReplicaPool(routes);
    this.options = { maxAttempts: 10, ...options };
    this.authorize = options.authorize;
    this.asyncFront = options.asyncFront;
    this.jobs = options.jobs;
    this.server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) json(res, 502, { error: `gateway: ${(error as Error).message}` });
        else res.destroy();
      });
    });
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => {});
      this.upgraded.add(socket);
      socket.once('close', () => this.upgraded.delete(socket));
      this.upgrade(req, socket, head).catch(() => socket.destroy());
    });
  }

  get address(): AddressInfo | undefined {
    return this.listening;
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        this.listening = this.server.address() as AddressInfo;
        this.pool.serving = true;
        resolve(this.listening);
      });
    });
  }

  /** Stops listening (the port is free when this resolves); open connections are closed. */
  close(): Promise<void> {
    this.listening = undefined;
    this.pool.serving = false;
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
      for (const socket of this.upgraded) socket.destroy();
      this.shadows.close();
      this.pool.wakeAll();
    });
  }

  /** Replicas came or went: held requests try again. */
  changed(): void {
    this.pool.changed();
  }

  /** A replica is gone for good: drop its idle connections. */
  forget(id: string): void {
    this.pool.forget(id);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q < 0 ? url : url.slice(0, q);
    const matched = this.routes.match(pathname);
    // a splitter's request goes to one of its APIs, by weight
    const route = matched?.split ? { ...matched, api: pickWeighted(matched.split) } : matched;
    // a job API's endpoint: jobs are submitted, read and stopped here, no replica serves it
    const job = this.jobs?.match(pathname);
    if (job && (route === undefined || job.endpoint.length >= route.endpoint.length)) {
      return this.jobs!.serve(job.api, req, res, stripEndpoint(job.endpoint, pathname)!, q < 0 ? '' : url.slice(q + 1));
    }
    if (route === undefined) {
      const apis = this.routes.endpoints().concat(this.jobs?.endpoints() ?? []);
      if (pathname === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
        return json(res, 200, { apis: apis.map((a) => ({ name: a.api, endpoint: a.endpoint })) });
      }
      req.resume();
      return json(res, 404, {
        error:
          apis.length === 0
            ? `no API at ${pathname}: nothing is deployed (cortex deploy)`
            : `no API at ${pathname}; endpoints: ${apis.map((a) => a.endpoint).join(', ')}`,
      });
    }
    // before anything about the API's state is told, and before its body is read
    const auth = this.authorize?.(route.api, req, res) ?? 'open';
    if (auth === 'refused') return;
    // an AsyncAPI queues its requests whether or not a replica runs now: they wait in the queue
    const asyncFront = this.asyncFront?.(route.api);
    if (asyncFront) {
      const rest = stripEndpoint(route.endpoint, pathname)!;
      return serveAsync(asyncFront, req, res, rest === '/' ? '' : rest, q < 0 ? '' : url.slice(q + 1));
    }
    const down = this.routes.down(route.api);
    if (down !== undefined) {
      req.resume();
      return json(res, 503, { error: `${route.api} has no ready replica: ${down}` });
    }
    const body = await readBody(req, this.options.maxBodyBytes);
    if (body === undefined) {
      res.setHeader('Connection', 'close');
      return json(res, 413, { error: `request body is larger than the limit of ${this.options.maxBodyBytes} bytes` });
    }
    const forwardPath = stripEndpoint(route.endpoint, pathname)! + (q < 0 ? '' : url.slice(q));
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!hopByHop.has(name) && value !== undefined) headers[name] = value;
    }
    if (auth === 'allowed') delete headers.authorization; // the predictor never sees the key
    headers['content-length'] = body.length;
    headers.host = req.headers.host ?? 'localhost';
    const forwardedFor = req.socket.remoteAddress;
    if (forwardedFor)
      headers['x-forwarded-for'] = req.headers['x-forwarded-for']
        ? `${req.headers['x-forwarded-for']}, ${forwardedFor}`
        : forwardedFor;

    const shadow = route.split?.shadow;
    if (shadow !== undefined) {
      const ready = this.routes.backends(shadow);
      const copy = ready[Math.floor(Math.random() * ready.length)];
      this.shadows.send(copy, req.method ?? 'GET', forwardPath, { ...headers }, body);
    }

    const deadline = Date.now() + this.options.holdMs;
    let clientGone = false;
    let upstream: http.ClientRequest | undefined;
    res.on('close', () => {
      if (res.writableFinished) return;
      clientGone = true;
      upstream?.destroy();
    });
    for (let attempt = 1; ; attempt++) {
      const backend = await this.pool.pick(route.api, deadline, () => clientGone);
      if (clientGone) return;
      if (backend === undefined) {
        res.setHeader('Retry-After', '1');
        return json(res, 503, {
          error: `${route.api} has no ready replica: ${this.routes.unavailableReason(route.api)}`,
        });
      }
      const outcome = await this.pool.forward(
        backend,
        req.method ?? 'GET',
        forwardPath,
        headers,
        body,
        res,
        (u) => (upstream = u),
      );
      if (outcome === 'done') return;
      if (attempt >= this.options.maxAttempts) {
        return json(res, 502, {
          error: `${route.api}: replica ${backend.id} failed before answering (${outcome}); retry`,
        });
      }
    }
  }

  /**
   * A WebSocket: routed, authorized and held like a request, then joined to the replica byte for
   * byte (operator/util/upgrade.ts); the open socket counts in its replica's load until it closes.
   */
  private async upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const res = responseFor(req, socket);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q < 0 ? url : url.slice(0, q);
    const matched = this.routes.match(pathname);
    const route = matched?.split ? { ...matched, api: pickWeighted(matched.split) } : matched;
    if (!isWebSocketUpgrade(req)) return json(res, 400, { error: 'only WebSocket upgrades are passed on' });
    if (route === undefined) return json(res, 404, { error: `no API at ${pathname}` });
    const auth = this.authorize?.(route.api, req, res) ?? 'open';
    if (auth === 'refused') return;
    // an AsyncAPI queues its requests whether or not a replica runs now: they wait in the queue
    const asyncFront = this.asyncFront?.(route.api);
    if (asyncFront) {
      const rest = stripEndpoint(route.endpoint, pathname)!;
      return serveAsync(asyncFront, req, res, rest === '/' ? '' : rest, q < 0 ? '' : url.slice(q + 1));
    }
    const down = this.routes.down(route.api);
    if (down !== undefined) return json(res, 503, { error: `${route.api} has no ready replica: ${down}` });
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!hopByHop.has(name) && value !== undefined) headers[name] = value;
    }
    if (auth === 'allowed') delete headers.authorization;
    headers.host = req.headers.host ?? 'localhost';
    const target = { path: stripEndpoint(route.endpoint, pathname)! + (q < 0 ? '' : url.slice(q)), headers };
    if (head.length > 0) socket.unshift(head);
    const deadline = Date.now() + this.options.holdMs;
    let gone = false;
    socket.once('close', () => (gone = true));
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
      const backend = await this.pool.pick(route.api, deadline, () => gone);
      if (gone) return;
      if (backend === undefined) {
        res.setHeader('Retry-After', '1');
        return json(res, 503, {
          error: `${route.api} has no ready replica: ${this.routes.unavailableReason(route.api)}`,
        });
      }
      const release = this.pool.openTunnel(backend);
      const outcome = await tunnel(req, res, { host: '127.0.0.1', port: backend.port, ...target }, release);
      if (outcome === 'upgraded') return;
      release();
      if (outcome === 'answered') return;
      this.pool.setAside(backend.id);
    }
    json(res, 502, { error: `${route.api}: no replica could be reached for the upgrade; retry` });
  }
}
