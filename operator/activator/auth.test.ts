// The activator in front of an API with networking.auth: api_key: real HTTP on loopback, a
// replica stand-in on 127.0.0.1, an in-memory backend whose keys can change.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { KeyRing, newKey } from '../auth/keys.ts';
import { silentLogger } from '../util/log.ts';
import { Activator, type Backend } from './activator.ts';

const keys = new KeyRing();
const wakes: string[] = [];
let replicaIps: string[] = [];
const backend: Backend = {
  ready: Promise.resolve(),
  api: (ns, name) => (ns === 'ml' && ['secured', 'open'].includes(name) ? {} : undefined),
  keys: (_ns, name) => (name === 'secured' ? keys : undefined),
  readyReplicas: () => replicaIps,
  runningReplicas: () => replicaIps,
  watch: () => () => {},
  wake: (ns, name) => {
    wakes.push(`${ns}/${name}`);
    return Promise.resolve({ from: 0, to: 1 });
  },
};
const seen: http.IncomingHttpHeaders[] = [];
const replica = http.createServer((req, res) => {
  seen.push(req.headers);
  req.resume().on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
});
const registry = new Registry();
let activator: Activator;
let port = 0;

before(async () => {
  await new Promise<void>((r) => replica.listen(0, '127.0.0.1', r));
  activator = new Activator({
    backend,
    log: silentLogger,
    timeoutMs: 300,
    replicaPort: (replica.address() as AddressInfo).port,
    confirmReady: false,
    registry,
  });
  port = await activator.listen(0, '127.0.0.1');
});
after(async () => {
  await activator.close();
  replica.close();
});

const call = async (api: string, key?: string) => {
  const res = await fetch(`http://127.0.0.1:${port}/`, {
    method: 'POST',
    headers: { 'x-cortex-api': `ml/${api}`, ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: '{}',
  });
  await res.arrayBuffer();
  return res;
};

test('without a valid key: 401 with WWW-Authenticate, and the API at zero is not woken', async () => {
  replicaIps = [];
  const good = newKey('good');
  keys.replace(new Map([['good', good.record]]));
  const missing = await call('secured');
  assert.equal(missing.status, 401);
  assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="cortex"');
  assert.equal((await call('secured', newKey('good').key)).status, 401, 'same name, other secret');
  assert.deepEqual(wakes, [], 'nothing woken');
  // a valid key is held and wakes the API (no replica comes: 503 after the hold)
  assert.equal((await call('secured', good.key)).status, 503);
  assert.deepEqual(wakes, ['ml/secured']);
  // an API with auth: none is woken by anyone
  assert.equal((await call('open')).status, 503);
  assert.deepEqual(wakes, ['ml/secured', 'ml/open']);
});

test('a valid key is passed on with its Authorization (the replica limits it); a revoke applies at once', async () => {
  replicaIps = ['127.0.0.1'];
  const k = newKey('limited', { requestsPerSecond: 1, burst: 1 });
  keys.replace(new Map([['limited', k.record]]));
  seen.length = 0;
  // the activator does not take tokens: three quick requests all pass it (the replica limits)
  for (let i = 0; i < 3; i++) assert.equal((await call('secured', k.key)).status, 200);
  assert.equal(seen.length, 3);
  assert.equal(seen[0].authorization, `Bearer ${k.key}`);
  keys.replace(new Map());
  assert.equal((await call('secured', k.key)).status, 401);
  assert.equal(seen.length, 3);
  const metrics = await registry.metrics();
  assert.match(
    metrics,
    /cortex_operator_activator_api_key_requests_total\{api="ml\/secured",api_key="limited",result="allowed"\} 3/,
  );
  assert.match(metrics, /cortex_operator_activator_requests_total\{result="unauthorized"\} \d/);
  assert.ok(!metrics.includes(k.key.slice(-43)));
});
