import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SampleStore, idleForMs } from './samples.ts';

const T0 = 1_700_000_000_000;
const s = (sec: number, inFlight: number, requestsTotal = 0) => ({ at: T0 + sec * 1000, inFlight, requestsTotal });

test('the average is the mean of the samples inside the window, older ones do not count', () => {
  const store = new SampleStore();
  // 10 s at 8 in flight, then 10 s at 2
  for (let i = 0; i < 10; i++) store.record('ml', 'p1', 'iris', s(i, 8), 60_000);
  for (let i = 10; i < 20; i++) store.record('ml', 'p1', 'iris', s(i, 2), 60_000);
  const now = T0 + 19_500;
  assert.equal(store.average('ml', 'p1', 20_000, now)?.value, 5, 'both halves');
  assert.equal(store.average('ml', 'p1', 10_000, now)?.value, 2, 'only the last 10 s');
  const w = store.average('ml', 'p1', 10_000, now)!;
  assert.equal(w.samples, 10);
  assert.equal(w.timestamp, T0 + 19_000);
  assert.equal(w.windowSeconds, 9, 'the span of the samples used');
  assert.equal(
    store.average('ml', 'p1', 60_000, now)?.windowSeconds,
    19,
    'a pod younger than the window: averaged over what it has',
  );
});

test('no sample inside the window (scrapes failing for a whole window): no value, not a stale one', () => {
  const store = new SampleStore();
  store.record('ml', 'p1', 'iris', s(0, 5), 60_000);
  assert.equal(store.average('ml', 'p1', 10_000, T0 + 30_000), undefined);
  assert.equal(store.average('ml', 'unknown', 10_000, T0), undefined);
});

test('samples older than the retention are dropped; out-of-order samples are ignored', () => {
  const store = new SampleStore();
  for (let i = 0; i < 100; i++) store.record('ml', 'p1', 'iris', s(i, i), 10_000);
  // only 89..99 remain: a 1-hour window still averages over them only
  assert.equal(store.average('ml', 'p1', 3_600_000, T0 + 99_000)?.samples, 11);
  store.record('ml', 'p1', 'iris', s(50, 1000), 10_000);
  assert.equal(store.average('ml', 'p1', 3_600_000, T0 + 99_000)?.value, 94, 'the late sample changed nothing');
});

test('pods are kept apart by namespace; forgetting a pod or an API drops its samples', () => {
  const store = new SampleStore();
  store.record('a', 'p', 'iris', s(0, 1), 60_000);
  store.record('b', 'p', 'iris', s(0, 7), 60_000);
  assert.equal(store.average('a', 'p', 60_000, T0)?.value, 1);
  assert.equal(store.average('b', 'p', 60_000, T0)?.value, 7);
  store.forgetPod('a', 'p');
  assert.equal(store.has('a', 'p'), false);
  assert.equal(store.has('b', 'p'), true);
  store.forgetApi('b', 'iris');
  assert.equal(store.has('b', 'p'), false);
  assert.equal(store.activity('b', 'iris'), undefined);
});

test('activity: a request is seen when the counter rises, when one is in flight, or after a runtime restart', () => {
  const store = new SampleStore();
  store.track('ml', 'iris', T0);
  store.record('ml', 'p1', 'iris', s(1, 0, 0), 60_000);
  assert.equal(store.activity('ml', 'iris')?.lastRequestAt, undefined, 'a new, unused pod');
  assert.equal(idleForMs(store.activity('ml', 'iris')!, T0 + 5000), 5000, 'idle since observation began');

  store.record('ml', 'p1', 'iris', s(2, 0, 3), 60_000);
  assert.equal(store.activity('ml', 'iris')?.lastRequestAt?.getTime(), T0 + 2000, 'counter rose');
  store.record('ml', 'p1', 'iris', s(3, 0, 3), 60_000);
  assert.equal(store.activity('ml', 'iris')?.lastRequestAt?.getTime(), T0 + 2000, 'unchanged counter: no request');
  store.record('ml', 'p1', 'iris', s(4, 1, 3), 60_000);
  assert.equal(store.activity('ml', 'iris')?.lastRequestAt?.getTime(), T0 + 4000, 'in flight');
  store.record('ml', 'p1', 'iris', s(5, 0, 2), 60_000);
  assert.equal(
    store.activity('ml', 'iris')?.lastRequestAt?.getTime(),
    T0 + 5000,
    'counter reset but above 0: served since the restart',
  );
  store.record('ml', 'p1', 'iris', s(6, 0, 0), 60_000);
  assert.equal(store.activity('ml', 'iris')?.lastRequestAt?.getTime(), T0 + 5000, 'reset to 0: nothing served');
  store.record('ml', 'p2', 'iris', s(7, 0, 4), 60_000);
  assert.equal(store.activity('ml', 'iris')?.lastRequestAt?.getTime(), T0 + 7000, 'a pod first seen having served');

  const a = store.activity('ml', 'iris')!;
  assert.equal(a.requestsTotal, 4);
  assert.deepEqual(
    a.pods.map((p) => [p.name, p.requestsTotal]),
    [
      ['p1', 0],
      ['p2', 4],
    ],
  );
  assert.equal(idleForMs(a, T0 + 10_000), 3000);
});

test("a pod's failing model reloads changing calls onReloadChange for its API, once per change", () => {
  const changed: string[] = [];
  const store = new SampleStore((ns, api) => changed.push(`${ns}/${api}`));
  const sample = (at: number, reloadFailing?: string[]) => ({ at, inFlight: 0, requestsTotal: 0, reloadFailing });
  store.record('ml', 'iris-a', 'iris', sample(1000, []), 60_000);
  store.record('ml', 'iris-a', 'iris', sample(2000, ['(path)']), 60_000);
  store.record('ml', 'iris-a', 'iris', sample(3000, ['(path)']), 60_000);
  assert.deepEqual(store.activity('ml', 'iris')!.pods[0].reloadFailing, ['(path)']);
  store.record('ml', 'iris-a', 'iris', sample(4000, []), 60_000);
  assert.deepEqual(changed, ['ml/iris', 'ml/iris']);
});
