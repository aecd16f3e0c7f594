// The replicas behind the local gateway (cli/local/gateway.ts): which one takes a request (the
// least busy ready one, waiting for one while an API starts) and the proxying of one attempt to
// it, with an answer that says whether the request may be sent again. Apart from the gateway so
// that routing (endpoints, auth, AsyncAPIs, jobs, WebSockets) and load balancing each read on
// their own; the gateway owns one pool and asks it for every request and upgrade.
import http from 'node:http';
import type { RouteTable } from './gateway.ts';
import { hopByHop, json } from './gateway-http.ts';

export interface Backend {
  /** Unique per replica. */
  id: string;
  port: number;
}

export class ReplicaPool {
  private readonly routes: RouteTable;
  private readonly active = new Map<string, number>();
  private readonly agents = new Map<string, http.Agent>();
  /** Replicas that just refused or reset a connection: skipped until then (ms), or until they change. */
  private readonly suspect = new Map<string, number>();
  private waiters: (() => void)[] = [];
  /** Whether the gateway listens: a closed one holds no request for a replica. */
  serving = false;

  constructor(routes: RouteTable) {
    this.routes = routes;
  }

  /** Replicas came or went: held requests try again. */
  changed(): void {
    this.suspect.clear();
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** The gateway closes: every held request stops waiting. */
  wakeAll(): void {
    for (const wake of this.waiters) wake();
  }

  /** A replica is gone for good: drop its idle connections. */
  forget(id: string): void {
    this.agents.get(id)?.destroy();
    this.agents.delete(id);
    this.active.delete(id);
  }

  /** A replica refused or reset a connection: the others are tried first for a second. */
  setAside(id: string): void {
    this.suspect.set(id, Date.now() + 1000);
  }

  /** An upgraded connection to `backend` counts in its load; the answer releases it. */
  openTunnel(backend: Backend): () => void {
    this.active.set(backend.id, (this.active.get(backend.id) ?? 0) + 1);
    return () => {
      if (this.agents.has(backend.id) || this.active.has(backend.id))
        this.active.set(backend.id, Math.max(0, (this.active.get(backend.id) ?? 1) - 1));
    };
  }

  /** The least busy ready replica, waiting up to `deadline` for one. */
  async pick(api: string, deadline: number, gone: () => boolean): Promise<Backend | undefined> {
    for (;;) {
      let best: Backend | undefined;
      let bestLoad = Infinity;
      const now = Date.now();
      for (const backend of this.routes.backends(api)) {
        const until = this.suspect.get(backend.id);
        if (until !== undefined && until > now) continue;
        const load = this.active.get(backend.id) ?? 0;
        if (load < bestLoad) {
          best = backend;
          bestLoad = load;
        }
      }
      if (best !== undefined) return best;
      const wait = deadline - Date.now();
      if (wait <= 0 || gone() || !this.serving) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(wait, 250));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.push(done);
      });
    }
  }

  /** 'done' when an answer (or a failure that must not be retried) went to the client; else why to retry. */
  forward(
    backend: Backend,
    method: string,
    path: string,
    headers: http.OutgoingHttpHeaders,
    body: Buffer,
    res: http.ServerResponse,
    bind: (upstream: http.ClientRequest) => void,
  ): Promise<'done' | string> {
    let agent = this.agents.get(backend.id);
    if (agent === undefined) {
      // Idle connections are dropped after 3 s, before the runtime's keep-alive timeout (5 s)
      // would close them under a request.
      agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, scheduling: 'lifo', timeout: 3000 });
      this.agents.set(backend.id, agent);
    }
    this.active.set(backend.id, (this.active.get(backend.id) ?? 0) + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (this.active.get(backend.id) ?? 1) - 1;
      if (this.agents.has(backend.id)) this.active.set(backend.id, Math.max(0, n));
    };
    return new Promise((resolve) => {
      const upstream = http.request(
        { host: '127.0.0.1', port: backend.port, method, path, headers, agent },
        (answer) => {
          const status = answer.statusCode ?? 502;
          if (status === 503 && this.routes.isLeaving(backend.id)) {
            // A draining replica refused it before any predictor saw it: send it elsewhere.
            answer.resume();
            release();
            this.setAside(backend.id);
            return resolve('the replica is shutting down');
          }
          const out: http.OutgoingHttpHeaders = {};
          for (const [name, value] of Object.entries(answer.headers)) {
            if (value !== undefined && (!hopByHop.has(name) || name === 'content-length')) out[name] = value;
          }
          res.writeHead(status, out);
          // A streamed answer (no length): its headers go now, not with its first chunk, which a
          // generator may yield much later. An answer with a length goes in one write as before.
          if (out['content-length'] === undefined) res.flushHeaders();
          answer.pipe(res);
          answer.on('end', release);
          answer.on('error', () => {
            release();
            res.destroy();
          });
          answer.on('close', () => {
            release();
            resolve('done');
          });
        },
      );
      bind(upstream);
      upstream.on('error', (error: NodeJS.ErrnoException) => {
        release();
        if (res.headersSent) {
          res.destroy();
          return resolve('done');
        }
        // Sent again only when no predictor can have seen it: the connection was refused, or a
        // draining replica closed a kept-alive connection (it finishes what it holds, so the
        // reset came before the request). Any other reset may come from a replica that crashed
        // while its predictor ran the request (a killed `cortex serve` leaves the Python worker
        // to finish it): sending it elsewhere would run it twice, so it gets 502.
        const reset = error.code === 'ECONNRESET' || error.code === 'EPIPE';
        const neverReached =
          error.code === 'ECONNREFUSED' || (reset && upstream.reusedSocket && this.routes.isLeaving(backend.id));
        if (neverReached) {
          // Most likely gone: try the others (or wait for the supervisor to notice) first.
          this.setAside(backend.id);
          return resolve(`${error.code ?? error.message}`);
        }
        json(res, 502, { error: `replica ${backend.id} failed while answering: ${error.code ?? error.message}` });
        resolve('done');
      });
      upstream.end(body);
    });
  }
}
