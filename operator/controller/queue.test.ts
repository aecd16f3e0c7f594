import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { WorkQueue, runWorkers } from './queue.ts';
import { Backoff, backoffDelay } from './backoff.ts';

test('backoff doubles from the base, is capped, and jitter only shortens it', () => {
  const opts = { baseMs: 100, maxMs: 1000, jitter: 0 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 60, 2000].map((n) => backoffDelay(n, opts)),
    [100, 200, 400, 800, 1000, 1000, 1000, 1000],
  );
  assert.equal(backoffDelay(3, { ...opts, jitter: 0.5, random: () => 0.999999 }), 200);
  assert.equal(backoffDelay(3, { ...opts, jitter: 0.5, random: () => 0 }), 400);
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(2, { baseMs: 100, maxMs: 1000, jitter: 0.2 });
    assert.ok(d >= 160 && d <= 200, String(d));
  }
  const b = new Backoff(opts);
  assert.deepEqual([b.next(), b.next(), b.next()], [100, 200, 400]);
  b.reset();
  assert.equal(b.next(), 100);
});

test('adding a queued key again coalesces', async () => {
  const q = new WorkQueue();
  q.add('a');
  q.add('b');
  q.add('a');
  assert.equal(q.length, 2);
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
  assert.equal(q.length, 0);
});

test('a key added while a worker holds it waits until done, then is queued once', async () => {
  const q = new WorkQueue();
  q.add('a');
  const key = await q.get();
  q.add('a');
  q.add('a');
  assert.equal(q.length, 0, 'not handed out while processing');
  q.done(key!);
  assert.equal(q.length, 1);
  assert.equal(await q.get(), 'a');
  q.done('a');
  assert.equal(q.length, 0);
});

test('get waits for a key; shutDown releases waiting getters', async () => {
  const q = new WorkQueue();
  const pending = q.get();
  setTimeout(() => q.add('x'), 5);
  assert.equal(await pending, 'x');
  const after = q.get();
  q.shutDown();
  assert.equal(await after, undefined);
  q.add('y');
  assert.equal(q.length, 0, 'nothing is added after shutDown');
});

test('addAfter: the earliest pending time wins', async () => {
  const q = new WorkQueue();
  q.addAfter('a', 1000);
  q.addAfter('a', 10);
  q.addAfter('a', 500);
  assert.equal(q.delayed, 1);
  await delay(40);
  assert.equal(q.length, 1);
  q.shutDown();
});

test('addRateLimited backs off per key; forget resets', () => {
  const q = new WorkQueue({ backoff: { baseMs: 10, maxMs: 80, jitter: 0 } });
  assert.deepEqual(
    [q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a')],
    [10, 20, 40, 80, 80],
  );
  assert.equal(q.addRateLimited('b'), 10, 'keys back off independently');
  assert.equal(q.failures('a'), 5);
  q.forget('a');
  assert.equal(q.failures('a'), 0);
  assert.equal(q.addRateLimited('a'), 10);
  q.shutDown();
});

test('workers: never two reconciles of one key at once, several keys in parallel', async () => {
  const q = new WorkQueue();
  const running = new Set<string>();
  let parallel = 0;
  let maxParallel = 0;
  const runs: string[] = [];
  const workers = runWorkers(q, {
    workers: 4,
    reconcile: async (key) => {
      assert.ok(!running.has(key), `${key} reconciled twice at once`);
      running.add(key);
      parallel++;
      maxParallel = Math.max(maxParallel, parallel);
      runs.push(key);
      await delay(20);
      running.delete(key);
      parallel--;
    },
  });
  for (let i = 0; i < 5; i++) {
    q.add('a');
    q.add('b');
    q.add('c');
    await delay(5);
  }
  await delay(100);
  q.shutDown();
  await workers;
  assert.ok(maxParallel >= 2, 'different keys run in parallel');
  for (const k of ['a', 'b', 'c']) {
    const n = runs.filter((r) => r === k).length;
    // 5 adds: events during a reconcile coalesce into one more run (how many depends on timing)
    assert.ok(n >= 2 && n <= 5, `${k} ran ${n} times`);
  }
});

test('workers: a failing reconcile is retried with growing delays, success forgets', async () => {
  const q = new WorkQueue({ backoff: { baseMs: 10, maxMs: 1000, jitter: 0 } });
  const times: number[] = [];
  const delays: number[] = [];
  const workers = runWorkers(q, {
    workers: 2,
    reconcile: async () => {
      times.push(Date.now());
      if (times.length < 4) throw new Error('boom');
    },
    onError: (_key, _err, retryIn) => delays.push(retryIn),
  });
  q.add('k');
  await delay(250);
  assert.equal(times.length, 4);
  assert.deepEqual(delays, [10, 20, 40]);
  for (let i = 1; i < times.length; i++)
    assert.ok(times[i] - times[i - 1] >= delays[i - 1] - 2, `retry ${i} too early`);
  assert.equal(q.failures('k'), 0, 'success forgot the failures');
  q.shutDown();
  await workers;
});

test('workers: requeueAfter looks at the key again', async () => {
  const q = new WorkQueue();
  let runs = 0;
  const workers = runWorkers(q, {
    workers: 1,
    reconcile: async () => {
      runs++;
      return runs < 3 ? { requeueAfterMs: 5 } : undefined;
    },
  });
  q.add('k');
  await delay(80);
  assert.equal(runs, 3);
  q.shutDown();
  await workers;
});

test('workers: shutDown waits for the reconciles in flight', async () => {
  const q = new WorkQueue();
  let finished = false;
  const workers = runWorkers(q, {
    workers: 1,
    reconcile: async () => {
      await delay(30);
      finished = true;
    },
  });
  q.add('k');
  await delay(5);
  q.shutDown();
  await workers;
  assert.ok(finished);
});
