import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Gateway, stripEndpoint, type Backend, type RouteTable } from './gateway.ts';

/** A replica stand-in: answers with its name, the path it saw and the body; /slow waits. */
async function backend(
  name: string,
  options: { status?: number } = {},
): Promise<{ server: http.Server; port: number; seen: string[] }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push(req.url ?? '');
      const reply = () => {
        res.writeHead(options.status ?? 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ name, url: req.url, body }));
      };
      if (body.includes('slow')) setTimeout(reply, 300);
      else reply();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

class Table implements RouteTable {
  apis = new Map<string, { endpoint: string; backends: Backend[] }>();
  leaving = new Set<string>();
  failed = new Map<string, string>();
  match(pathname: string) {
    let best: { api: string; endpoint: string } | undefined;
    for (const [api, { endpoint }] of this.apis) {
      if (stripEndpoint(endpoint, pathname) !== undefined && (!best || endpoint.length > best.endpoint.length))
        best = { api, endpoint };
    }
    return best;
  }
  backends(api: string) {
    return (this.apis.get(api)?.backends ?? []).filter((b) => !this.leaving.has(b.id));
  }
  isLeaving(id: string) {
    return this.leaving.has(id);
  }
  unavailableReason() {
    return 'starting';
  }
  down(api: string) {
    return this.failed.get(api);
  }
  endpoints() {
    return [...this.apis].map(([api, { endpoint }]) => ({ api, endpoint }));
  }
}

describe('gateway', () => {
  const routes = new Table();
  const gateway = new Gateway(routes, { holdMs: 1500, maxBodyBytes: 1000 });
  let url = '';
  const servers: http.Server[] = [];
  const post = async (path: string, body: string) => {
    const r = await fetch(url + path, { method: 'POST', body });
    return {
      status: r.status,
      json: (await r.json()) as { name?: string; url?: string; body?: string; error?: string },
    };
  };
  before(async () => {
    const address = await gateway.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${address.port}`;
  });
  after(async () => {
    await gateway.close();
    for (const s of servers) s.close();
  });

  test('stripEndpoint matches on path-segment boundaries', () => {
    assert.equal(stripEndpoint('/iris', '/iris'), '/');
    assert.equal(stripEndpoint('/iris', '/iris/'), '/');
    assert.equal(stripEndpoint('/iris', '/iris/predict'), '/predict');
    assert.equal(stripEndpoint('/iris', '/irises'), undefined);
    assert.equal(stripEndpoint('/', '/anything'), '/anything');
  });

  test('routes by the longest endpoint and strips it; the query string stays', async () => {
    const a = await backend('a');
    const b = await backend('b');
    servers.push(a.server, b.server);
    routes.apis.set('models', { endpoint: '/models', backends: [{ id: 'a', port: a.port }] });
    routes.apis.set('models-v2', { endpoint: '/models/v2', backends: [{ id: 'b', port: b.port }] });
    assert.deepEqual((await post('/models?x=1', 'hi')).json, { name: 'a', url: '/?x=1', body: 'hi' });
    assert.deepEqual((await post('/models/predict', '')).json, { name: 'a', url: '/predict', body: '' });
    assert.deepEqual((await post('/models/v2', '')).json, { name: 'b', url: '/', body: '' });
    const missing = await post('/nope', '');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error, 'no API at /nope; endpoints: /models, /models/v2');
    const list = await fetch(url + '/');
    assert.deepEqual(await list.json(), {
      apis: [
        { name: 'models', endpoint: '/models' },
        { name: 'models-v2', endpoint: '/models/v2' },
      ],
    });
    routes.apis.clear();
  });

  test('the replica with the fewest requests in flight gets the next one', async () => {
    const a = await backend('a');
    const b = await backend('b');
    servers.push(a.server, b.server);
    routes.apis.set('api', {
      endpoint: '/api',
      backends: [
        { id: 'la', port: a.port },
        { id: 'lb', port: b.port },
      ],
    });
    const slow = post('/api', 'slow');
    await new Promise((r) => setTimeout(r, 50));
    const quick = await post('/api', 'quick');
    const first = await slow;
    assert.notEqual(quick.json.name, first.json.name);
    routes.apis.clear();
  });

  test('with no ready replica a request is held until one is, or answered 503 with the reason', async () => {
    routes.apis.set('late', { endpoint: '/late', backends: [] });
    const held = post('/late', 'x');
    await new Promise((r) => setTimeout(r, 300));
    const a = await backend('late-a');
    servers.push(a.server);
    routes.apis.get('late')!.backends.push({ id: 'late-a', port: a.port });
    gateway.changed();
    assert.deepEqual((await held).json.name, 'late-a');
    routes.apis.set('never', { endpoint: '/never', backends: [] });
    const started = Date.now();
    const refused = await post('/never', '');
    assert.equal(refused.status, 503);
    assert.equal(refused.json.error, 'never has no ready replica: starting');
    assert.ok(Date.now() - started >= 1400);
    routes.apis.clear();
  });

  test('an API that will not start without a new deploy gets 503 at once, naming the reason', async () => {
    routes.apis.set('failed', { endpoint: '/failed', backends: [] });
    routes.failed.set('failed', 'its first version failed to start; see cortex get failed');
    try {
      const started = Date.now();
      const r = await post('/failed', '');
      assert.equal(r.status, 503);
      assert.equal(
        r.json.error,
        'failed has no ready replica: its first version failed to start; see cortex get failed',
      );
      assert.ok(Date.now() - started < 500, 'not held');
    } finally {
      routes.failed.clear();
      routes.apis.clear();
    }
  });

  test('a refused connection is sent to another replica', async () => {
    const good = await backend('good');
    const closed = await backend('closed');
    servers.push(good.server);
    await new Promise<void>((r) => closed.server.close(() => r()));
    routes.apis.set('api', {
      endpoint: '/api',
      backends: [
        { id: 'closed', port: closed.port },
        { id: 'good', port: good.port },
      ],
    });
    const r = await post('/api', '');
    assert.deepEqual([r.status, r.json.name], [200, 'good']);
    routes.apis.clear();
  });

  test('a replica that fails after it got the request: 502, not sent to another replica (no double run)', async () => {
    const seen: string[] = [];
    const crashing = http.createServer((req) => {
      req.resume();
      req.on('end', () => {
        seen.push('crashing');
        req.socket.destroy(); // a replica killed while its predictor runs the request
      });
    });
    await new Promise<void>((r) => crashing.listen(0, '127.0.0.1', r));
    servers.push(crashing);
    const good = await backend('good');
    servers.push(good.server);
    routes.apis.set('api', {
      endpoint: '/api',
      backends: [
        { id: 'crashing', port: (crashing.address() as AddressInfo).port },
        { id: 'good-2', port: good.port },
      ],
    });
    try {
      const r = await post('/api', 'once');
      assert.equal(r.status, 502);
      assert.match(r.json.error ?? '', /replica crashing failed while answering: ECONNRESET/);
      assert.deepEqual(seen, ['crashing']);
      assert.deepEqual(good.seen, [], 'sent to another replica: it would have run twice');
    } finally {
      routes.apis.clear();
    }
  });

  test('a 503 is passed on, unless its replica is draining: then it goes to another replica', async () => {
    const busy = await backend('busy', { status: 503 });
    const good = await backend('good');
    servers.push(busy.server, good.server);
    routes.apis.set('api', { endpoint: '/api', backends: [{ id: 'busy', port: busy.port }] });
    assert.equal((await post('/api', '')).status, 503);
    // Draining, but still listed (the switch and the request crossed): retried elsewhere.
    routes.apis.set('api', {
      endpoint: '/api',
      backends: [
        { id: 'busy', port: busy.port },
        { id: 'good', port: good.port },
      ],
    });
    const listed = routes.backends;
    routes.backends = (api: string) => routes.apis.get(api)?.backends ?? [];
    routes.leaving.add('busy');
    try {
      const before = busy.seen.length;
      const r = await post('/api', '');
      assert.deepEqual([r.status, r.json.name], [200, 'good']);
      assert.equal(busy.seen.length, before + 1, 'the draining replica was tried first');
    } finally {
      routes.backends = listed;
      routes.leaving.clear();
      routes.apis.clear();
    }
  });

  test('bodies over the limit get 413', async () => {
    routes.apis.set('api', { endpoint: '/api', backends: [] });
    const r = await post('/api', 'x'.repeat(2000));
    assert.equal(r.status, 413);
    routes.apis.clear();
  });
});
