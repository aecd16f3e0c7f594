// The activator with real HTTP on loopback: a client, the activator, and "replicas" that are
// HTTP servers on 127.0.0.x (the IPs the in-memory backend reports as ready pods).
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { silentLogger } from '../util/log.ts';
import { Activator, RETRY_AFTER_SECONDS, type Backend } from './activator.ts';

/** APIs, their ready replicas and wake-ups, in memory. */
class MemoryBackend implements Backend {
  ready: Promise<void> = Promise.resolve();
  apis = new Map<string, { reason?: string }>();
  replicas = new Map<string, string[]>();
  wakes: string[] = [];
  /** APIs whose held requests ended, in order. */
  releases: string[] = [];
  wakeError: Error | undefined;
  /** What a wake does besides counting (e.g. start a replica later). */
  onWake: ((key: string) => void) | undefined;
  private listeners = new Map<string, Set<() => void>>();

  api(ns: string, name: string) {
    return this.apis.get(`${ns}/${name}`);
  }
  /** Replicas running but not ready yet in the kubelet's eyes. */
  starting = new Map<string, string[]>();
  readyReplicas(ns: string, name: string) {
    return this.replicas.get(`${ns}/${name}`) ?? [];
  }
  runningReplicas(ns: string, name: string) {
    return [...this.readyReplicas(ns, name), ...(this.starting.get(`${ns}/${name}`) ?? [])];
  }
  watch(ns: string, name: string, listener: () => void) {
    const key = `${ns}/${name}`;
    if (!this.listeners.has(key)) this.listeners.set(key, new Set());
    this.listeners.get(key)!.add(listener);
    return () => this.listeners.get(key)!.delete(listener);
  }
  released(ns: string, name: string) {
    this.releases.push(`${ns}/${name}`);
  }
  watchers(key: string): number {
    return this.listeners.get(key)?.size ?? 0;
  }
  async wake(ns: string, name: string) {
    const key = `${ns}/${name}`;
    this.wakes.push(key);
    if (this.wakeError) throw this.wakeError;
    this.onWake?.(key);
    return { from: 0, to: 1 };
  }
  setReplicas(key: string, ips: string[]): void {
    this.replicas.set(key, ips);
    for (const l of this.listeners.get(key) ?? []) l();
  }
}

interface Seen {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A replica: echoes what it received, /readyz as told. */
async function replica(
  ip: string,
  port = 0,
  options: { ready?: () => boolean } = {},
): Promise<{ server: Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    if (req.url === '/readyz') return void res.writeHead(options.ready?.() === false ? 503 : 200).end();
    let body = '';
    req
      .setEncoding('utf8')
      .on('data', (c: string) => (body += c))
      .on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        res.writeHead(201, { 'content-type': 'application/json', 'x-replica': ip, connection: 'close' });
        // streamed in two parts, the second later: the activator must pass both on
        res.write(JSON.stringify({ echo: body, url: req.url }).slice(0, 5));
        setTimeout(() => res.end(JSON.stringify({ echo: body, url: req.url }).slice(5)), 30);
      });
  });
  await new Promise<void>((resolve) => server.listen(port, ip, resolve));
  servers.push(server);
  return { server, port: (server.address() as AddressInfo).port, seen };
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  ms: number;
}

/** A request through the activator (http.request: fetch cannot set Host). */
function send(
  port: number,
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: string | string[] } = {},
): Promise<Answer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'POST',
        path: options.path ?? '/',
        headers: options.headers,
      },
      (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (body += c))
          .on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, ms: Date.now() - started }));
      },
    );
    req.on('error', reject);
    const parts = options.body === undefined ? [] : Array.isArray(options.body) ? options.body : [options.body];
    // a body that arrives in pieces over time, as a slow client's would
    void (async () => {
      for (const p of parts) {
        req.write(p);
        await sleep(10);
      }
      req.end();
    })();
  });
}

const servers: Server[] = [];
const activators: Activator[] = [];
afterEach(async () => {
  await Promise.all(activators.splice(0).map((a) => a.close()));
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

async function activator(
  backend: Backend,
  options: { timeoutMs?: number; replicaPort: number },
): Promise<{ a: Activator; port: number; registry: Registry }> {
  const registry = new Registry();
  const a = new Activator({
    backend,
    log: silentLogger,
    registry,
    timeoutMs: options.timeoutMs ?? 10_000,
    replicaPort: options.replicaPort,
    clusterDomain: 'cluster.local',
  });
  activators.push(a);
  return { a, port: await a.listen(0, '127.0.0.1'), registry };
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const values = (m?.values ?? []) as { value: number; labels: Record<string, string | number>; metricName?: string }[];
  const v = values.find(
    (x) =>
      (x.metricName === undefined || x.metricName === name || x.metricName === `${name}_count`) &&
      Object.entries(labels).every(([k, l]) => x.labels[k] === l),
  );
  return v?.value ?? 0;
}

test(
  'a request for an API with a ready replica is passed on: method, path and query, headers, streamed body; ' +
    'the answer streams back',
  async () => {
    const backend = new MemoryBackend();
    const r = await replica('127.0.0.2');
    backend.apis.set('ml/iris', {});
    backend.replicas.set('ml/iris', ['127.0.0.2']);
    const { port, registry } = await activator(backend, { replicaPort: r.port });

    const answer = await send(port, {
      method: 'PUT',
      path: '/predict?x=1&y=2',
      headers: {
        host: 'iris.ml.svc.cluster.local',
        'x-request-id': 'abc',
        'content-type': 'application/json',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        tracestate: 'vendor=abc',
        connection: 'keep-alive, x-private',
        'x-private': 'hop',
      },
      body: ['{"a":', '1}'],
    });
    assert.equal(answer.status, 201);
    assert.deepEqual(JSON.parse(answer.body), { echo: '{"a":1}', url: '/predict?x=1&y=2' });
    assert.equal(answer.headers['x-replica'], '127.0.0.2');
    const [seen] = r.seen;
    assert.equal(seen.method, 'PUT');
    assert.equal(seen.headers.host, 'iris.ml.svc.cluster.local', 'Host is kept');
    assert.equal(seen.headers['x-request-id'], 'abc');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    // the W3C trace context reaches the replica unchanged (docs/tracing.md)
    assert.equal(seen.headers.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    assert.equal(seen.headers.tracestate, 'vendor=abc');
    assert.equal(seen.headers['x-private'], undefined, 'a header Connection names is hop-by-hop');
    assert.equal(await metric(registry, 'cortex_operator_activator_requests_total', { result: 'proxied' }), 1);
    assert.deepEqual(backend.wakes, [], 'an API with a ready replica is not woken');
  },
);

test(
  'an unknown API, or a Host that names none, ' + 'gets 404 with what was asked and how the activator routes',
  async () => {
    const backend = new MemoryBackend();
    const { port } = await activator(backend, { replicaPort: 1 });
    const unknown = await send(port, { headers: { 'x-cortex-api': 'ml/nope' } });
    assert.equal(unknown.status, 404);
    assert.equal(
      JSON.parse(unknown.body).error,
      'no RealtimeAPI nope in namespace ml (named by X-Cortex-API "ml/nope")',
    );
    const other = await send(port, { headers: { host: 'example.com' } });
    assert.equal(JSON.parse(other.body).error, 'no RealtimeAPI example in namespace com (named by Host "example.com")');
    const bad = await send(port, { headers: { host: '127.0.0.1:8889' } });
    assert.equal(bad.status, 404);
    assert.match(
      JSON.parse(bad.body).error,
      /Host "127\.0\.0\.1:8889" is not an API's Service name: the activator finds the API from the Host header/,
    );
    assert.deepEqual(backend.wakes, []);
  },
);

test(
  'requests for an API at zero are held, share one wake-up, ' + "and get the replica's answers once its /readyz passes",
  async () => {
    const backend = new MemoryBackend();
    backend.apis.set('ml/iris', {});
    let ready = false;
    const r = await replica('127.0.0.3', 0, { ready: () => ready });
    // the pod is Running...
    backend.onWake = () => setTimeout(() => backend.setReplicas('ml/iris', ['127.0.0.3']), 200);
    const { a, port, registry } = await activator(backend, { replicaPort: r.port });

    const answers = Promise.all(
      [1, 2, 3].map((i) =>
        send(port, { headers: { 'x-cortex-api': 'ml/iris' }, path: `/?i=${i}`, body: `{"i":${i}}` }),
      ),
    );
    await sleep(600);
    // ...but its runtime is not ready yet: nothing is answered, everything is held
    assert.equal(a.held('ml', 'iris'), 3);
    assert.equal(await metric(registry, 'cortex_operator_activator_held_requests'), 3);
    assert.equal(r.seen.length, 0);
    ready = true;
    const done = await answers;
    assert.deepEqual(
      done.map((x) => x.status),
      [201, 201, 201],
    );
    assert.deepEqual(
      done.map((x) => JSON.parse(x.body).echo).sort(),
      ['{"i":1}', '{"i":2}', '{"i":3}'],
      'each held body reaches the replica',
    );
    assert.deepEqual(backend.wakes, ['ml/iris'], 'one wake-up for all three');
    assert.equal(a.held('ml', 'iris'), 0);
    assert.equal(await metric(registry, 'cortex_operator_activator_held_requests'), 0);
    assert.equal(await metric(registry, 'cortex_operator_activator_wakes_total'), 1);
    assert.equal(await metric(registry, 'cortex_operator_activator_cold_start_seconds'), 1, 'one cold start observed');
    assert.equal(await metric(registry, 'cortex_operator_activator_requests_total', { result: 'held_proxied' }), 3);
    assert.equal(backend.watchers('ml/iris'), 0, 'the wake-up stopped watching');
    assert.ok(Math.min(...done.map((x) => x.ms)) >= 600, 'answered only after the replica was ready');
  },
);

test(
  "a waking API's running replica gets the held requests as soon as its own /readyz passes, " +
    'before the kubelet calls it ready',
  async () => {
    const backend = new MemoryBackend();
    backend.apis.set('ml/iris', {});
    const r = await replica('127.0.0.5');
    backend.onWake = (key) => backend.starting.set(key, ['127.0.0.5']);
    const { port } = await activator(backend, { replicaPort: r.port });
    const answer = await send(port, { headers: { host: 'iris.ml' }, body: '{}' });
    assert.equal(answer.status, 201);
    assert.deepEqual(backend.readyReplicas('ml', 'iris'), [], 'never marked ready by the kubelet');
    assert.equal(r.seen.length, 1);
  },
);

test(
  'a held request that no replica answers in time gets ' + "503 with Retry-After and the API's status as the reason",
  async () => {
    const backend = new MemoryBackend();
    backend.apis.set('ml/big', {
      reason: 'compute unavailable: no node can run pod big-1: 0/4 nodes are available: 2 Insufficient cpu',
    });
    const { a, port, registry } = await activator(backend, { replicaPort: 1, timeoutMs: 400 });
    const answer = await send(port, { headers: { host: 'big.ml' } });
    assert.equal(answer.status, 503);
    assert.equal(answer.headers['retry-after'], String(RETRY_AFTER_SECONDS));
    assert.equal(
      JSON.parse(answer.body).error,
      'the API ml/big did not become ready within 0.4s: compute unavailable: ' +
        'no node can run pod big-1: 0/4 nodes are available: 2 Insufficient cpu; retry later',
    );
    assert.ok(answer.ms >= 400 && answer.ms < 3000, `answered after the timeout (${answer.ms} ms)`);
    assert.deepEqual(backend.wakes, ['ml/big'], 'it was woken');
    assert.equal(a.held('ml', 'big'), 0);
    assert.deepEqual(backend.releases, ['ml/big'], 'its end is reported: the idle time counts from the answer');
    assert.equal(await metric(registry, 'cortex_operator_activator_requests_total', { result: 'timeout' }), 1);
  },
);

test('when the wake-up itself fails, the 503 says so', async () => {
  const backend = new MemoryBackend();
  backend.apis.set('ml/iris', {});
  backend.wakeError = new Error('deployments.apps "iris" is forbidden: User "system:serviceaccount:x:y" cannot patch');
  const { port } = await activator(backend, { replicaPort: 1, timeoutMs: 300 });
  const answer = await send(port, { headers: { host: 'iris.ml' } });
  assert.equal(answer.status, 503);
  assert.match(
    JSON.parse(answer.body).error,
    /^the API ml\/iris did not become ready within 0\.3s: could not scale it up: deployments\.apps "iris" is forbidden/,
  );
});

test('a client that leaves while held is no longer counted, and the wake-up stops waiting', async () => {
  const backend = new MemoryBackend();
  backend.apis.set('ml/iris', {});
  const { a, port } = await activator(backend, { replicaPort: 1 });
  const req = http.request({ host: '127.0.0.1', port, method: 'GET', path: '/', headers: { host: 'iris.ml' } });
  req.on('error', () => undefined);
  req.end();
  await sleep(200);
  assert.equal(a.held('ml', 'iris'), 1);
  req.destroy();
  await sleep(700);
  assert.equal(a.held('ml', 'iris'), 0);
  assert.deepEqual(backend.releases, ['ml/iris']);
  assert.equal(backend.watchers('ml/iris'), 0);
});

test(
  'a "ready" replica that refuses the connection is not an error: ' + 'the request waits for one that answers',
  async () => {
    const backend = new MemoryBackend();
    backend.apis.set('ml/iris', {});
    // the pod is reported ready before its runtime listens (a stale readiness, a kwok pod)
    const probe = await replica('127.0.0.4');
    const port4 = probe.port;
    await new Promise<void>((resolve) => probe.server.close(() => resolve()));
    backend.replicas.set('ml/iris', ['127.0.0.4']);
    const { port } = await activator(backend, { replicaPort: port4 });
    const pending = send(port, { headers: { host: 'iris.ml' }, body: '{"late":true}' });
    await sleep(300);
    const r = await replica('127.0.0.4', port4);
    const answer = await pending;
    assert.equal(answer.status, 201);
    assert.equal(JSON.parse(answer.body).echo, '{"late":true}', 'the body was not lost on the refused connection');
    assert.equal(r.seen.length, 1);
  },
);
