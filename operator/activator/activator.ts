// The activator: an HTTP server in the operator process (every replica, leader or not) that
// receives the requests of APIs that have no ready replica — at zero, waking, or not started
// yet — through the EndpointSlice operator/scale-to-zero puts on their Service.
//
// A request is held, not failed: the API is woken (its Deployment goes from 0 to 1 replica) and
// the request waits until a replica is ready, then is passed to it (proxy.ts) and its answer
// streamed back. Every request held for an API shares one wake-up (one write, one wait). A
// request still waiting after `timeoutMs` gets 503 with Retry-After and why, as far as known:
// the API's status message (compute unavailable, an image that cannot be pulled, a crashing
// __init__) or the error of the scale-up itself. A request for an API with a ready replica is
// passed on at once (the Service may still point here for a moment after the wake).
//
// Where the activator learns about APIs and replicas, and how it wakes them, is a Backend
// (kube-backend.ts on informers; the unit tests use an in-memory one). The wake-up itself, shared
// by an API's held requests, is wake.ts.

import type { AsyncFrontHandler } from './async-front.ts';
import type { JobFront } from './job-front.ts';
import type { AsyncSpec } from '../api/v1alpha1/index.ts';
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { errorMessage } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { RUNTIME_PORT } from '../reconcilers/deployment.ts';
import { forward, jsonError } from './proxy.ts';
import { responseFor } from '../util/upgrade.ts';
import type { Duplex } from 'node:stream';
import { routeOf } from './route.ts';
import type { KeyRing } from '../auth/keys.ts';
import { AuthMetrics, admit } from '../auth/gate.ts';
import { ClientGone, HoldTimeout, Wakes } from './wake.ts';

export const DEFAULT_ACTIVATOR_PORT = 8889;
export const DEFAULT_ACTIVATOR_TIMEOUT_MS = 120_000;
/** Seconds a client is told to wait before retrying after a 503. */
export const RETRY_AFTER_SECONDS = 10;

export interface Backend {
  /** Resolves once the backend knows every API (its caches synced). */
  ready: Promise<void>;
  /** The API if it exists, with why it is not serving when its status says so. */
  api(namespace: string, name: string): { reason?: string; async?: AsyncSpec } | undefined;
  /**
   * The API's keys when its networking.auth is api_key (undefined: none, no key is asked for).
   * Checked before anything is held or woken (api-keys.ts says why).
   */
  keys?(namespace: string, name: string): KeyRing | undefined;
  /** IPs of the API's ready replicas (the kubelet's readiness). */
  readyReplicas(namespace: string, name: string): string[];
  /** IPs of the API's running replicas, ready or not: a waking API's are probed directly. */
  runningReplicas(namespace: string, name: string): string[];
  /** Calls `listener` whenever the API's replicas change; returns the unsubscribe. */
  watch(namespace: string, name: string, listener: () => void): () => void;
  /** Makes sure the API has replicas (from 0 to 1); the replicas before and after. */
  wake(namespace: string, name: string): Promise<{ from: number; to: number }>;
  /**
   * A held request of the API was answered (or its client left): the API was busy until now, so
   * its time without requests counts from here, not from the scale-to-zero loop's last look.
   */
  released?(namespace: string, name: string): void;
}

export interface ActivatorOptions {
  backend: Backend;
  /** An AsyncAPI's front while it has no ready replica (async-front.ts); undefined: held like any request. */
  asyncFront?: AsyncFrontHandler;
  /** BatchAPIs' and TaskAPIs' endpoints (job-front.ts); undefined: only RealtimeAPIs are served. */
  jobs?: JobFront;
  log: Logger;
  /** How long a request is held before 503. Default 2 min. */
  timeoutMs?: number;
  clusterDomain?: string;
  /** The replicas' port. Default 8888 (cortex serve). */
  replicaPort?: number;
  /** Check a replica's /readyz before sending it the held requests. Default true. */
  confirmReady?: boolean;
  /** Where the activator's metrics go (the operator's registry). */
  registry?: Registry;
}

function seconds(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 100) / 10}s`;
}

/** Whether `p` resolves within `ms`. */
async function settlesWithin(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

export class Activator {
  readonly server: Server;
  private readonly o: ActivatorOptions;
  private readonly wakes: Wakes;
  private readonly heldBy = new Map<string, number>();
  private readonly next = new Map<string, number>();
  private readonly metrics;
  private readonly authMetrics: AuthMetrics;
  /** Upgraded connections (WebSockets) being held or joined: Node's server no longer tracks them. */
  private readonly upgraded = new Set<Duplex>();

  constructor(options: ActivatorOptions) {
    this.o = options;
    this.authMetrics = new AuthMetrics({
      registry: options.registry,
      metricName: 'cortex_operator_activator_api_key_requests_total',
    });
    const registers = options.registry ? [options.registry] : [];
    this.metrics = {
      requests: new Counter({
        name: 'cortex_operator_activator_requests_total',
        help:
          'Requests the activator received, by result: ' +
          'proxied, held_proxied (after waiting for a replica), timeout (503), not_found, client_gone, ' +
          'unauthorized (401: no valid API key), ' +
          'async_queued (an AsyncAPI with no ready replica: queued by the activator), ' +
          "job (a BatchAPI's or TaskAPI's endpoint: a job submitted, read or stopped)",
        labelNames: ['result'],
        registers,
      }),
      held: new Gauge({
        name: 'cortex_operator_activator_held_requests',
        help: 'Requests waiting for a ready replica now',
        registers,
      }),
      wakes: new Counter({
        name: 'cortex_operator_activator_wakes_total',
        help: 'APIs scaled from 0 to 1 replica by a request',
        registers,
      }),
      coldStart: new Histogram({
        name: 'cortex_operator_activator_cold_start_seconds',
        help: 'From the first held request of an API at zero to its first ready replica',
        buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
        registers,
      }),
    };
    this.wakes = new Wakes(options, this.metrics);
    // no requestTimeout (Node's default is 5 min): a held request's body stays unread until a
    // replica is ready, and the hold has its own limit (timeoutMs)
    this.server = http.createServer({ requestTimeout: 0 }, (req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        this.o.log.error('activator: request failed', { error: errorMessage(error) });
        if (!res.headersSent) jsonError(res, 500, `activator: ${errorMessage(error)}`);
        else res.destroy();
      });
    });
    // a WebSocket is held and woken for like a request, then joined to the replica (proxy.ts)
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => {});
      this.upgraded.add(socket);
      socket.once('close', () => this.upgraded.delete(socket));
      if (head.length > 0) socket.unshift(head);
      const res = responseFor(req, socket);
      this.handle(req, res).catch((error: unknown) => {
        this.o.log.error('activator: upgrade failed', { error: errorMessage(error) });
        socket.destroy();
      });
    });
  }

  listen(port: number, host?: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server.listening ? this.server.close(() => resolve()) : resolve()));
    this.server.closeAllConnections();
    for (const socket of this.upgraded) socket.destroy();
  }

  /** Requests held for an API now (the scale-to-zero loop counts them as traffic). */
  held(namespace: string, name: string): number {
    return this.heldBy.get(`${namespace}/${name}`) ?? 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = Date.now();
    const route = routeOf(req.headers, this.o.clusterDomain ?? 'cluster.local');
    const timeoutMs = this.o.timeoutMs ?? DEFAULT_ACTIVATOR_TIMEOUT_MS;
    if ('error' in route) {
      // a job API's endpoint by its path (a client of the activator's own address)
      if (await this.servedAsJob(req, res, timeoutMs)) return;
      this.metrics.requests.inc({ result: 'not_found' });
      return jsonError(res, 404, route.error);
    }
    const { namespace, name } = route;
    if (!(await settlesWithin(this.o.backend.ready, timeoutMs))) {
      this.metrics.requests.inc({ result: 'timeout' });
      return jsonError(
        res,
        503,
        `the activator could not list the RealtimeAPIs within ${seconds(timeoutMs)} ` +
          "(see the operator's log); retry later",
        { 'Retry-After': String(RETRY_AFTER_SECONDS) },
      );
    }
    if (!this.o.backend.api(namespace, name)) {
      if (await this.servedAsJob(req, res, timeoutMs, route)) return;
      this.metrics.requests.inc({ result: 'not_found' });
      return jsonError(res, 404, `no RealtimeAPI ${name} in namespace ${namespace} (named by ${route.from})`);
    }
    const keys = this.o.backend.keys?.(namespace, name);
    if (keys !== undefined && !admit(keys, `${namespace}/${name}`, this.authMetrics, req, res, false).ok) {
      this.metrics.requests.inc({ result: 'unauthorized' });
      return;
    }
    const port = this.o.replicaPort ?? RUNTIME_PORT;

    // a ready replica: straight to it
    const ip = this.pick(namespace, name);
    const settings = this.o.backend.api(namespace, name)?.async;
    if (ip === undefined && settings && this.o.asyncFront) {
      // an AsyncAPI at zero: queued now, the id answered now; the replica woken works the queue
      this.metrics.requests.inc({ result: 'async_queued' });
      await this.o.asyncFront(namespace, name, settings, req, res);
      if (req.method === 'POST' && res.statusCode === 200) {
        await this.o.backend.wake(namespace, name).catch((error: unknown) =>
          this.o.log.warn('activator: waking an AsyncAPI failed; its queue depth wakes it', {
            api: `${namespace}/${name}`,
            error: errorMessage(error),
          }),
        );
      }
      return;
    }
    if (ip !== undefined && (await forward(req, res, { host: ip, port })) === 'done') {
      this.metrics.requests.inc({ result: 'proxied' });
      return;
    }

    // none (or it could not be reached): hold the request until one is ready, or the deadline
    const key = `${namespace}/${name}`;
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const deadline = arrived + timeoutMs;
    this.heldBy.set(key, this.held(namespace, name) + 1);
    this.metrics.held.inc();
    try {
      for (;;) {
        const replica = await this.wakes.awaitReplica(namespace, name, deadline, gone.signal);
        if ((await forward(req, res, { host: replica, port })) === 'done') {
          this.metrics.requests.inc({ result: 'held_proxied' });
          return;
        }
      }
    } catch (error) {
      if (error instanceof ClientGone) return void this.metrics.requests.inc({ result: 'client_gone' });
      if (!(error instanceof HoldTimeout)) throw error;
      this.metrics.requests.inc({ result: 'timeout' });
      jsonError(res, 503, this.timeoutMessage(namespace, name, error.message), {
        'Retry-After': String(RETRY_AFTER_SECONDS),
      });
    } finally {
      const left = this.held(namespace, name) - 1;
      if (left > 0) this.heldBy.set(key, left);
      else this.heldBy.delete(key);
      this.metrics.held.dec();
      this.o.backend.released?.(namespace, name);
    }
  }

  /** Whether the request was a job API's (job-front.ts), and so answered. */
  private async servedAsJob(
    req: IncomingMessage,
    res: ServerResponse,
    timeoutMs: number,
    named?: { namespace: string; name: string },
  ): Promise<boolean> {
    const jobs = this.o.jobs;
    if (jobs === undefined) return false;
    if (!(await settlesWithin(jobs.ready, timeoutMs))) {
      this.metrics.requests.inc({ result: 'timeout' });
      jsonError(
        res,
        503,
        `the activator could not list the BatchAPIs and TaskAPIs within ${seconds(timeoutMs)} ` +
          "(are the chart's CRDs installed? see the operator's log); retry later",
        { 'Retry-After': String(RETRY_AFTER_SECONDS) },
      );
      return true;
    }
    const served = named
      ? await jobs.serveNamed(named.namespace, named.name, req, res)
      : await jobs.serveByPath(req, res);
    if (served) this.metrics.requests.inc({ result: 'job' });
    return served;
  }

  private timeoutMessage(namespace: string, name: string, problem: string): string {
    const why = problem || this.o.backend.api(namespace, name)?.reason;
    const waited = seconds(this.o.timeoutMs ?? DEFAULT_ACTIVATOR_TIMEOUT_MS);
    const detail = why ? `: ${why}` : ' (its status reports no problem yet: it may still be starting)';
    return `the API ${namespace}/${name} did not become ready within ${waited}${detail}; retry later`;
  }

  /** Round-robin over the ready replicas. */
  private pick(namespace: string, name: string): string | undefined {
    const ips = this.o.backend.readyReplicas(namespace, name);
    if (ips.length === 0) return undefined;
    const key = `${namespace}/${name}`;
    const i = this.next.get(key) ?? 0;
    this.next.set(key, i + 1);
    return ips[i % ips.length];
  }
}
