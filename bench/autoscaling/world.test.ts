import { test } from 'node:test';
import assert from 'node:assert/strict';
import { neededReplicas, World, type WorldOptions } from './world.ts';

// 1 request at a time per replica, 250 ms each: a ready replica starts 4 requests a second.
const O: WorldOptions = {
  serviceTimeSeconds: 0.25,
  concurrency: 1,
  maxReplicaConcurrency: 1024,
  coldStartSeconds: 30,
  windowSeconds: 60,
};

test('sim queueing: arrivals beyond capacity wait and are all served later', () => {
  const w = new World(O, 1);
  // 6 a second against 4: the backlog grows by 2 a second, to 20 after 10 s
  const first = w.step(0, 6);
  assert.equal(first.inFlight, 1 + 2, '4 started × 0.25 s executing, 2 waiting');
  for (let t = 1; t < 10; t++) w.step(t, 6);
  // then nothing arrives: 20 drain at 4 a second
  const drained = [10, 11, 12, 13, 14].map((t) => w.step(t, 0).inFlight);
  assert.deepEqual(drained, [1 + 16, 1 + 12, 1 + 8, 1 + 4, 1 + 0]);
  // waiting request-seconds: 2 + 4 + … + 20 = 110, then 16 + 12 + 8 + 4 + 0 = 40
  assert.equal(w.totals.queuedRequestSeconds, 150);
  assert.equal(w.totals.rejected, 0);
});

test('sim needed replicas: ⌈arrivals · service time / concurrency⌉, 0 with no load', () => {
  assert.equal(neededReplicas(8, O), 2);
  assert.equal(neededReplicas(8.4, O), 3);
  assert.equal(neededReplicas(0, O), 0);
  assert.equal(neededReplicas(8, { ...O, concurrency: 2 }), 1);
});

test('sim accounting: starting replicas are paid for (over) but do not serve (under)', () => {
  const w = new World(O, 1);
  w.step(0, 8); // needs 2, has 1 ready: under 1; backlog 4
  w.scaleTo(0, 3); // 2 new pods, ready at 30
  for (let t = 1; t < 30; t++) w.step(t, 8);
  const v = w.step(30, 8);
  assert.equal(v.replicas, 3);
  // seconds 0..29: 1 ready of 2 needed → under 30; seconds 1..29: 3 pods for 2 needed → over 29;
  // second 30: 3 ready → over 1
  assert.equal(w.totals.underProvisioned, 30);
  assert.equal(w.totals.overProvisioned, 30);
  assert.equal(w.totals.replicaSeconds, 1 + 3 * 30);
  assert.equal(w.totals.scaleChanges, 1);
  assert.equal(w.totals.peakReplicas, 3);
});

test("sim pod metrics: each ready pod's in-flight averaged over the window, in milli; a starting pod has none", () => {
  const w = new World(O, 2);
  w.step(0, 4); // 1 executing over 2 pods: 0.5 each
  const v = w.step(1, 8); // 2 executing: 1 each → mean 0.75
  w.scaleTo(1, 3);
  assert.deepEqual(
    v.podMetrics(60).map((p) => p.milli),
    [750, 750],
  );
  const later = w.step(2, 8);
  assert.deepEqual(
    later.podMetrics(60).map((p) => [p.phase, p.milli]),
    [
      ['Running', 833],
      ['Running', 833],
      ['Running', undefined],
    ],
  );
  assert.equal(later.apiAverage(60), (1 + 2 + 2) / 3, 'the API-wide total, averaged');
  assert.equal(later.apiAverage(2), 2, 'only seconds 1 and 2');
});

test('sim scale down removes starting pods before ready ones, then the newest', () => {
  const w = new World(O, 2);
  w.scaleTo(0, 4);
  w.scaleTo(1, 3); // the pod created at 0, still starting, goes first
  const v = w.step(2, 0);
  assert.deepEqual(
    v.podMetrics(60).map((p) => p.milli === undefined),
    [false, false, true],
  );
  w.scaleTo(40, 1); // at 40 all are ready: the newest (ready at 30) goes, then pod-1
  assert.deepEqual(
    w
      .step(41, 4)
      .podMetrics(60)
      .map((p) => p.name),
    ['pod-0'],
  );
});

test('sim 503s: a replica admits at most maxReplicaConcurrency, the rest is rejected', () => {
  const w = new World({ ...O, maxReplicaConcurrency: 10 }, 1);
  const v = w.step(0, 20); // 4 start (1 executing), 16 would wait: only 9 fit
  assert.equal(v.inFlight, 10);
  assert.equal(w.totals.rejected, 7);
});

test('sim with no ready replica: requests wait in front and no pod reports', () => {
  const w = new World(O, 0);
  const v = w.step(0, 3);
  assert.equal(v.inFlight, 3);
  assert.equal(v.apiAverage(60), undefined);
  assert.deepEqual(v.podMetrics(60), []);
  assert.equal(w.totals.underProvisioned, 1);
});
