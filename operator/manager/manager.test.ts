// The manager with fake runnables and a fake elector: start order (caches ready first, leader-
// only ones once elected), stop in reverse within the grace period, a lost Lease stopping the
// leader-only runnables and nothing else, a failing runnable stopping everything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { silentLogger } from '../util/log.ts';
import { Manager, untilAborted, type Elector, type Runnable } from './manager.ts';

/** A runnable that records its start and stop in `events`; ready after `readyMs` when given. */
function fake(
  events: string[],
  name: string,
  needsLeader: boolean,
  readyMs?: number,
): Runnable & { signal?: AbortSignal } {
  const r: Runnable & { signal?: AbortSignal } = {
    name,
    needsLeader,
    async start(signal) {
      r.signal = signal;
      events.push(`start ${name}`);
      await untilAborted(signal);
      events.push(`stop ${name}`);
    },
  };
  if (readyMs !== undefined) r.ready = () => delay(readyMs).then(() => void events.push(`ready ${name}`));
  return r;
}

/** An elector that wins at once; lose() ends the term. */
function fakeElector(events: string[]): Elector & { lose(why: string): void } {
  let lost: ((why: string) => void) | undefined;
  return {
    run: async (onStoppedLeading) => {
      lost = onStoppedLeading;
      events.push('elected');
      return true;
    },
    release: async () => void events.push('released'),
    lose: (why) => lost?.(why),
  };
}

test('starts caches (each until ready), always-on runnables, then leader-only ones; stops in reverse', async () => {
  const events: string[] = [];
  const leading: boolean[] = [];
  const m = new Manager({ log: silentLogger, elector: fakeElector(events), onLeading: (l) => leading.push(l) });
  m.add(fake(events, 'cache', false, 20))
    .add(fake(events, 'controller', true, 10))
    .add(fake(events, 'loop', true))
    .add(fake(events, 'metrics API', false));
  await m.start();
  assert.equal(m.leading, true);
  assert.deepEqual(events, [
    'start cache',
    'ready cache',
    'start metrics API',
    'elected',
    'start controller',
    'ready controller',
    'start loop',
  ]);
  events.length = 0;
  assert.equal(await m.stop(), true);
  assert.deepEqual(events, ['stop loop', 'stop controller', 'released', 'stop metrics API', 'stop cache']);
  assert.deepEqual(leading, [true, false]);
});

test('losing the lease stops the leader-only runnables and nothing else', async () => {
  const events: string[] = [];
  const elector = fakeElector(events);
  let lost: string | undefined;
  const m = new Manager({ log: silentLogger, elector, onLostLeadership: (why) => (lost = why) });
  const cache = fake(events, 'cache', false, 0);
  const metricsApi = fake(events, 'metrics API', false);
  const controller = fake(events, 'controller', true);
  const loop = fake(events, 'loop', true);
  m.add(cache).add(metricsApi).add(controller).add(loop);
  await m.start();
  events.length = 0;
  elector.lose('the lease is held by b');
  await delay(10);
  assert.equal(lost, 'the lease is held by b');
  assert.equal(m.leading, false);
  assert.deepEqual(events, ['stop loop', 'stop controller']);
  assert.equal(controller.signal?.aborted, true);
  assert.equal(loop.signal?.aborted, true);
  assert.equal(cache.signal?.aborted, false, 'the caches keep running');
  assert.equal(metricsApi.signal?.aborted, false, 'the metrics API keeps serving');
  assert.equal(await m.stop(), true);
  assert.deepEqual(events.slice(2), ['released', 'stop metrics API', 'stop cache']);
});

test('a standby stopped while campaigning starts no leader-only runnable', async () => {
  const events: string[] = [];
  let release!: () => void;
  const elector: Elector = {
    run: () => new Promise((resolve) => (release = () => resolve(false))),
    release: async () => release(),
  };
  const m = new Manager({ log: silentLogger, elector });
  m.add(fake(events, 'metrics API', false)).add(fake(events, 'controller', true));
  const started = m.start();
  await delay(10);
  assert.equal(await m.stop(), true);
  await started;
  assert.deepEqual(events, ['start metrics API', 'stop metrics API']);
});

test('without an elector the leader-only runnables start at once', async () => {
  const events: string[] = [];
  const m = new Manager({ log: silentLogger });
  m.add(fake(events, 'controller', true));
  await m.start();
  assert.equal(m.leading, true);
  assert.deepEqual(events, ['start controller']);
  await m.stop();
});

test('a runnable that ignores its signal: stop() gives up after the grace period', async () => {
  const m = new Manager({ log: silentLogger, gracePeriodMs: 50 });
  let finish!: () => void;
  m.add({ name: 'stuck', needsLeader: true, start: () => new Promise((resolve) => (finish = resolve)) });
  await m.start();
  const start = Date.now();
  assert.equal(await m.stop(), false);
  assert.ok(Date.now() - start < 1000);
  finish();
});

test('a failing runnable stops the others and is reported', async () => {
  const events: string[] = [];
  let failed: string | undefined;
  const m = new Manager({ log: silentLogger, onFailure: (name) => (failed = name) });
  m.add(fake(events, 'metrics API', false));
  m.add({
    name: 'controller',
    needsLeader: true,
    start: async () => {
      await delay(5);
      throw new Error('cannot read node pools');
    },
  });
  await m.start();
  await delay(30);
  assert.equal(failed, 'controller');
  assert.deepEqual(events, ['start metrics API', 'stop metrics API']);
});
