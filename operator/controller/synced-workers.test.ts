import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { SyncedWorkers, type SyncingCache } from './synced-workers.ts';

/** A cache whose first list completes when the test says (an Informer's start, sync and stop). */
class Cache implements SyncingCache {
  started = false;
  stopped = false;
  private synced = false;
  private readonly waiters: (() => void)[] = [];

  start(): void {
    this.started = true;
  }

  waitForSync(): Promise<void> {
    if (this.synced || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  sync(): void {
    this.synced = true;
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}

test('the workers start once every cache has synced, and work what was queued before', async () => {
  const caches = [new Cache(), new Cache()];
  const seen: string[] = [];
  const loop = new SyncedWorkers(caches, { workers: 1, reconcile: async (key) => void seen.push(key) }, 'stopping');
  loop.start();
  assert.deepEqual(
    caches.map((c) => c.started),
    [true, true],
  );
  loop.queue.add('a');
  caches[0]!.sync();
  await delay(20);
  assert.deepEqual(seen, [], 'one cache has not synced yet');
  caches[1]!.sync();
  await delay(20);
  assert.deepEqual(seen, ['a']);
  loop.queue.add('b');
  await delay(20);
  assert.deepEqual(seen, ['a', 'b']);
  await loop.stop();
  assert.deepEqual(
    caches.map((c) => c.stopped),
    [true, true],
  );
});

test('stopped before the caches synced (no CRD): stop returns and no worker ever runs', async () => {
  const cache = new Cache();
  let reconciled = 0;
  const loop = new SyncedWorkers(
    [cache],
    {
      workers: 2,
      reconcile: async () => {
        reconciled++;
      },
    },
    'stopping',
  );
  loop.start();
  loop.queue.add('a');
  await loop.stop();
  assert.equal(cache.stopped, true);
  assert.equal(reconciled, 0);
});

test('stop aborts the reconcile in flight with the reason given, and waits for it', async () => {
  const cache = new Cache();
  let reason: unknown;
  let finished = false;
  const loop = new SyncedWorkers(
    [cache],
    {
      workers: 1,
      reconcile: async (_key, signal) => {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        await delay(20);
        reason = signal.reason;
        finished = true;
      },
    },
    'the controller is stopping',
  );
  loop.start();
  cache.sync();
  loop.queue.add('a');
  await delay(20);
  await loop.stop();
  assert.equal(finished, true, 'stop waited for the reconcile');
  assert.ok(reason instanceof Error);
  assert.equal(reason.message, 'the controller is stopping');
});
