// `cortex proxy` as a pod API's replica runs it: the real CLI in its own process, in front of a
// real HTTP server process (fixtures/upstream-server.mjs) standing in for the user's container.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { after, test } from 'node:test';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newKey } from '../operator/auth/keys.ts';
import { freePort } from '../test/helpers/local.ts';

const CORTEX = new URL('../cli/bin/cortex.ts', import.meta.url).pathname;
const UPSTREAM = new URL('./fixtures/upstream-server.mjs', import.meta.url).pathname;
const children: ChildProcess[] = [];
after(() => children.forEach((c) => c.kill('SIGKILL')));

async function startUpstream() {
  const [port, control] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [UPSTREAM, String(port), String(control)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  await once(child.stdout!, 'data');
  const call = async (path: string) =>
    (await (await fetch(`http://127.0.0.1:${control}${path}`, { method: 'POST' })).json()) as {
      held: number;
      maxHeld: number;
      order: string[];
    };
  return { port, child, state: () => call('/state'), release: () => call('/release') };
}

async function startProxy(upstreamPort: number, ...flags: string[]) {
  const child = spawn(
    process.execPath,
    [
      CORTEX,
      'proxy',
      '--api',
      'pod-api',
      '--upstream-port',
      String(upstreamPort),
      '-p',
      '0',
      '--admin-port',
      '0',
      ...flags,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  let buffered = '';
  let resolveStarted: (v: { port: number; adminPort: number }) => void;
  const started = new Promise<{ port: number; adminPort: number }>((r) => (resolveStarted = r));
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const line of parts) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (typeof entry.adminPort === 'number') resolveStarted(entry as unknown as { port: number; adminPort: number });
    }
  });
  const { port, adminPort } = await started;
  const metric = async (name: string, labels = '') => {
    const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{api="pod-api"${labels}}`));
    return line === undefined ? undefined : Number(line.split(' ').pop());
  };
  return { child, port, adminPort, lines, metric, url: `http://127.0.0.1:${port}` };
}

/** A request through the proxy that resolves with status and body whenever it is answered. */
function send(url: string, id: string, path = '/hold') {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'x-id': id }, body: id }).then(async (r) => ({
    status: r.status,
    body: await r.text(),
    retryAfter: r.headers.get('retry-after'),
  }));
}

async function until(what: string, check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('max_concurrency requests reach the container, max_queue_length wait in order, the rest get 503', async () => {
  const upstream = await startUpstream();
  const proxy = await startProxy(upstream.port, '--max-concurrency', '2', '--max-queue-length', '3');
  const answers: ReturnType<typeof send>[] = [];
  // one at a time, so that the arrival order is the sending order
  for (let i = 1; i <= 5; i++) {
    answers.push(send(proxy.url, `r${i}`));
    await until(`r${i} admitted`, async () => (await proxy.metric('cortex_in_flight_requests')) === i);
  }
  assert.equal((await upstream.state()).held, 2, 'two inside the container');
  assert.equal(await proxy.metric('cortex_queue_length'), 3);
  const refused = await Promise.all([send(proxy.url, 'r6'), send(proxy.url, 'r7')]);
  for (const r of refused) {
    assert.equal(r.status, 503);
    assert.equal(r.retryAfter, '1');
    assert.match(
      JSON.parse(r.body).error,
      /2 in progress and 3 queued .*pod.max_concurrency 2, pod.max_queue_length 3/,
    );
  }
  assert.equal(await proxy.metric('cortex_in_flight_requests'), 5, 'refused requests are never in flight');

  await upstream.release();
  const done = await Promise.all(answers);
  assert.deepEqual(
    done.map((r) => [r.status, JSON.parse(r.body).id]),
    [1, 2, 3, 4, 5].map((i) => [200, `r${i}`]),
  );
  const state = await upstream.state();
  assert.equal(state.maxHeld, 2, 'never more than max_concurrency inside the container');
  assert.deepEqual(
    state.order,
    ['r1', 'r2', 'r3', 'r4', 'r5'],
    'queued requests reach the container first in, first out',
  );
  assert.equal(await proxy.metric('cortex_in_flight_requests'), 0);
  assert.equal(await proxy.metric('cortex_requests_total', ',status_code="200"'), 5);
  assert.equal(await proxy.metric('cortex_requests_total', ',status_code="503"'), 2);
  assert.equal(await proxy.metric('cortex_rejected_requests_total', ',reason="over_capacity"'), 2);
  assert.equal(await proxy.metric('cortex_request_duration_seconds_count'), 7);
  proxy.child.kill('SIGKILL');
  upstream.child.kill('SIGKILL');
});

test('any method and path is forwarded; bodies stream both ways; repeated headers survive', async () => {
  const upstream = await startUpstream();
  const proxy = await startProxy(upstream.port);
  const r = await fetch(`${proxy.url}/v1/models/x:predict?q=1`, { method: 'PUT', body: 'x' });
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { method: 'PUT', path: '/v1/models/x:predict?q=1' });
  assert.deepEqual(r.headers.getSetCookie(), ['a=1', 'b=2']);

  // The first chunk comes back before the request's body has ended: nothing waits for a whole body.
  const req = http.request(`${proxy.url}/echo`, { method: 'POST' });
  const firstEcho = new Promise<string>((resolve) =>
    req.on('response', (res) => res.once('data', (chunk: Buffer) => resolve(chunk.toString()))),
  );
  req.write('first chunk');
  assert.equal(await firstEcho, 'first chunk');
  req.end();

  // a large body goes through whole
  const big = Buffer.alloc(32 * 1024 * 1024, 'z');
  const echoed = await fetch(`${proxy.url}/echo`, { method: 'POST', body: big });
  assert.equal((await echoed.arrayBuffer()).byteLength, big.length);
  proxy.child.kill('SIGKILL');
  upstream.child.kill('SIGKILL');
});

test('a client that goes away while queued is dropped from the queue and logged, never sent on', async () => {
  const upstream = await startUpstream();
  const proxy = await startProxy(upstream.port, '--max-concurrency', '1', '--max-queue-length', '5');
  const first = send(proxy.url, 'a');
  await until('a admitted', async () => (await proxy.metric('cortex_in_flight_requests')) === 1);
  const controller = new AbortController();
  const gone = fetch(`${proxy.url}/hold`, { method: 'POST', headers: { 'x-id': 'gone' }, signal: controller.signal });
  await until('gone queued', async () => (await proxy.metric('cortex_queue_length')) === 1);
  controller.abort();
  await assert.rejects(gone);
  await until('gone dropped', async () => (await proxy.metric('cortex_in_flight_requests')) === 1);
  assert.equal(await proxy.metric('cortex_queue_length'), 0);
  await upstream.release();
  assert.equal((await first).status, 200);
  assert.deepEqual((await upstream.state()).order, ['a']);
  await until('the drop logged', async () => proxy.lines.some((l) => /dropped from the queue/.test(String(l.message))));
  proxy.child.kill('SIGKILL');
  upstream.child.kill('SIGKILL');
});

test('readiness follows the container; a container that is down is a 502 that says so', async () => {
  const down = await freePort();
  const proxy = await startProxy(down);
  const ready = await fetch(`http://127.0.0.1:${proxy.adminPort}/readyz`);
  assert.equal(ready.status, 503);
  assert.match(
    ((await ready.json()) as { reason: string }).reason,
    new RegExp(`does not accept connections on port ${down}`),
  );
  const r = await fetch(`${proxy.url}/`, { method: 'POST', body: '{}' });
  assert.equal(r.status, 502);
  assert.match(
    ((await r.json()) as { error: string }).error,
    new RegExp(`did not answer on port ${down}: ECONNREFUSED`),
  );
  assert.equal(await proxy.metric('cortex_workers_ready'), 0);
  assert.equal((await fetch(`http://127.0.0.1:${proxy.adminPort}/healthz`)).status, 200);
  proxy.child.kill('SIGKILL');

  const upstream = await startUpstream();
  const up = await startProxy(upstream.port);
  assert.equal((await fetch(`http://127.0.0.1:${up.adminPort}/readyz`)).status, 200);
  // the activator's marked probe on the traffic port is the proxy's; any other /readyz is the container's
  const probe = await fetch(`${up.url}/readyz`, { headers: { 'x-cortex-probe': 'readiness' } });
  assert.deepEqual([probe.status, await probe.json()], [200, { status: 'ready' }]);
  assert.deepEqual(await (await fetch(`${up.url}/readyz`)).json(), { method: 'GET', path: '/readyz' });
  assert.equal(await up.metric('cortex_requests_total', ',status_code="200"'), 1, 'the probe is not a request');
  assert.equal(await up.metric('cortex_workers_ready'), 1);
  up.child.kill('SIGKILL');
  upstream.child.kill('SIGKILL');
});

test('SIGTERM: not ready, no new connections, admitted requests (queued too) answered, exit 0', async () => {
  const upstream = await startUpstream();
  const proxy = await startProxy(upstream.port, '--max-concurrency', '1', '--grace-period', '10');
  const running = send(proxy.url, 'running');
  await until('running admitted', async () => (await proxy.metric('cortex_in_flight_requests')) === 1);
  const queued = send(proxy.url, 'queued');
  await until('queued', async () => (await proxy.metric('cortex_queue_length')) === 1);
  proxy.child.kill('SIGTERM');
  await until('draining', async () => (await fetch(`http://127.0.0.1:${proxy.adminPort}/readyz`)).status === 503);
  await assert.rejects(fetch(`${proxy.url}/`, { headers: { connection: 'close' } }), 'the listener is closed');
  const exited = once(proxy.child, 'exit');
  await upstream.release();
  assert.deepEqual(
    (await Promise.all([running, queued])).map((r) => r.status),
    [200, 200],
  );
  assert.deepEqual(await exited, [0, null]);
  upstream.child.kill('SIGKILL');
});

test('auth api_key: no key or a wrong one is a 401 that never reaches the container; the key stays here', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cortex-proxy-keys-'));
  const { key, record } = newKey('ci-bot');
  writeFileSync(join(dir, 'ci-bot'), JSON.stringify(record));
  const upstream = await startUpstream();
  const proxy = await startProxy(upstream.port, '--api-keys', dir);
  const before = (await upstream.state()).order.length;
  const missing = await fetch(`${proxy.url}/headers`);
  assert.equal(missing.status, 401);
  assert.match(missing.headers.get('www-authenticate') ?? '', /Bearer/);
  const wrong = await fetch(`${proxy.url}/headers`, { headers: { authorization: `Bearer ${key}x` } });
  assert.equal(wrong.status, 401);
  assert.equal((await upstream.state()).order.length, before, 'nothing refused reached the container');

  const ok = await fetch(`${proxy.url}/headers`, { headers: { authorization: `Bearer ${key}`, 'x-id': 'k' } });
  assert.equal(ok.status, 200);
  const seen = (await ok.json()) as Record<string, string>;
  assert.equal(seen['x-id'], 'k');
  assert.equal(seen.authorization, undefined, 'the key stays in the proxy');
  assert.equal(await proxy.metric('cortex_api_key_requests_total', ',api_key="ci-bot",result="allowed"'), 1);
  assert.equal(await proxy.metric('cortex_api_key_requests_total', ',api_key="",result="missing"'), 1);
  assert.ok(!proxy.lines.some((l) => JSON.stringify(l).includes(key.slice(12))), 'no key in the logs');
  proxy.child.kill('SIGKILL');
  upstream.child.kill('SIGKILL');
});
