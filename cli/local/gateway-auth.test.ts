// networking.auth: api_key on the local gateway: a real Gateway, a stand-in replica that counts
// what reaches it, keys written by the CLI's store, and the supervisor's log captured.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import client from 'prom-client';
import type { AuthMode } from '../../operator/api/v1alpha1/index.ts';
import { JsonLogger } from '../../operator/util/log.ts';
import { newKey } from '../../operator/auth/keys.ts';
import { AuthMetrics } from '../../operator/auth/gate.ts';
import { Gateway, stripEndpoint, type RouteTable } from './gateway.ts';
import { gatewayAuth } from './gateway-auth.ts';
import { localKeyStore } from './keys.ts';

const home = mkdtempSync(path.join(tmpdir(), 'cortex-gateway-auth-'));
const logLines: string[] = [];
const log = new JsonLogger({ level: 'debug', sink: (chunk) => logLines.push(...chunk.split('\n').filter(Boolean)) });
const registry = new client.Registry();
const modes: Record<string, AuthMode> = { secured: 'api_key', open: 'none' };
const auth = gatewayAuth({
  layout: { home },
  log,
  mode: (api) => modes[api] ?? 'none',
  metrics: new AuthMetrics({ registry }),
  reloadMs: 100,
});

/** What reached the predictor: each request's headers. */
const reached: http.IncomingHttpHeaders[] = [];
const replica = http.createServer((req, res) => {
  reached.push(req.headers);
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
});
let replicaPort = 0;
const routes: RouteTable = {
  match: (p) =>
    ['secured', 'open'].map((api) => ({ api, endpoint: `/${api}` })).find((r) => stripEndpoint(r.endpoint, p)),
  backends: () => [{ id: 'r1', port: replicaPort }],
  isLeaving: () => false,
  unavailableReason: () => 'starting',
  down: () => undefined,
  endpoints: () => [],
};
const gateway = new Gateway(routes, { holdMs: 1000, maxBodyBytes: 1 << 20, authorize: auth.authorize });
let base = '';
const keys = localKeyStore({ home }, 'secured');

before(async () => {
  await new Promise<void>((r) => replica.listen(0, '127.0.0.1', r));
  replicaPort = (replica.address() as AddressInfo).port;
  const address = await gateway.listen(0, '127.0.0.1');
  base = `http://127.0.0.1:${address.port}`;
});
after(async () => {
  auth.stop();
  await gateway.close();
  replica.close();
  rmSync(home, { recursive: true, force: true });
});

async function call(api: string, key?: string) {
  const res = await fetch(`${base}/${api}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key !== undefined ? { authorization: `Bearer ${key}` } : {}) },
    body: '{"x":1}',
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as { error?: string } };
}

const until = async (what: string, check: () => Promise<boolean>, ms = 3000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

const issued: string[] = [];
async function create(id: string, limits = {}) {
  const { key, record } = newKey(id, limits);
  assert.equal(await keys.add(id, record), true);
  issued.push(key);
  return key;
}

test('missing and wrong keys: 401, a JSON error and WWW-Authenticate; nothing reaches the predictor', async () => {
  const good = await create('alice');
  await until('the new key is accepted', async () => (await call('secured', good)).status === 200);
  reached.length = 0;
  const missing = await call('secured');
  assert.equal(missing.status, 401);
  assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="cortex"');
  assert.equal(missing.headers.get('content-type'), 'application/json');
  assert.match(missing.body.error!, /needs an API key: send it as Authorization: Bearer <key>/);
  const wrong = await call('secured', good.slice(0, -2) + (good.endsWith('AA') ? 'BB' : 'AA'));
  assert.equal(wrong.status, 401);
  assert.match(wrong.headers.get('www-authenticate')!, /error="invalid_token"/);
  assert.equal((await call('secured', 'ctx_alice_nope')).status, 401);
  assert.equal(reached.length, 0, 'no refused request reached the replica');
  const ok = await call('secured', good);
  assert.equal(ok.status, 200);
  assert.equal(reached.length, 1);
  assert.equal(reached[0].authorization, undefined, 'the key is not passed on to the predictor');
  // an API with auth: none is untouched: no key needed, and a sent header goes on as it came
  reached.length = 0;
  assert.equal((await call('open')).status, 200);
  assert.equal((await call('open', 'whatever')).status, 200);
  assert.equal(reached[1].authorization, 'Bearer whatever');
});

test('a revoked key is refused within a second, a rotated one works at once', async () => {
  const old = await create('deploy');
  await until('the key is accepted', async () => (await call('secured', old)).status === 200);
  const rotated = await create('deploy-2');
  await until('the rotated key is accepted', async () => (await call('secured', rotated)).status === 200);
  assert.equal((await call('secured', old)).status, 200, 'both work while clients move over');
  const revokedAt = Date.now();
  assert.equal(await keys.remove('deploy'), true);
  await until('the revoked key is refused', async () => (await call('secured', old)).status === 401, 1000);
  assert.ok(Date.now() - revokedAt < 1000);
  assert.equal((await call('secured', rotated)).status, 200);
  assert.equal(await keys.remove('deploy'), false, 'revoking twice says there was none');
});

test('a rate limit holds under load: 429 with Retry-After past burst + rate x time, the rest answered', async () => {
  const key = await create('limited', { requestsPerSecond: 20, burst: 10 });
  await until('the key is loaded', async () => (await keys.list()).has('limited'));
  await new Promise((r) => setTimeout(r, 250)); // the gateway's reload
  reached.length = 0;
  const started = Date.now();
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  // 8 clients, 300 requests, as fast as they go
  let sent = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (sent < 300) {
        sent++;
        const r = await call('secured', key);
        statuses.push(r.status);
        if (r.status === 429) retryAfter = r.headers.get('retry-after');
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  const answered = statuses.filter((s) => s === 200).length;
  const limited = statuses.filter((s) => s === 429).length;
  assert.equal(answered + limited, statuses.length, `only 200s and 429s: ${[...new Set(statuses)].join(',')}`);
  const allowed = 10 + 20 * seconds; // the bucket's size, then its refill
  assert.ok(answered <= Math.ceil(allowed) + 1, `${answered} answered in ${seconds} s, at most ${allowed}`);
  assert.ok(answered >= 10, `the burst was answered (${answered})`);
  assert.ok(limited > 0, 'some were limited');
  assert.equal(reached.length, answered, 'exactly the answered ones reached the replica');
  assert.equal(retryAfter, '1');
});

test('no key appears in any log line or metric label; key names do', async () => {
  const metrics = await registry.metrics();
  const everything = logLines.join('\n') + metrics;
  for (const key of issued) {
    assert.ok(!everything.includes(key), 'the key is not logged');
    assert.ok(!everything.includes(key.slice(-43)), 'nor its secret part');
  }
  assert.match(metrics, /cortex_api_key_requests_total\{api="secured",api_key="alice",result="allowed"\} \d+/);
  assert.match(metrics, /api_key="limited",result="rate_limited"/);
  assert.match(metrics, /api_key="",result="missing"/);
  assert.match(metrics, /api_key="",result="invalid"/);
  assert.ok(
    logLines.some((l) => /"api_key":"limited"/.test(l) && /"status":429/.test(l)),
    'the 429s name the key',
  );
});
