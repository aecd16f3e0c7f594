import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults } from '../../operator/api/v1alpha1/index.ts';
import {
  cortexAwaken,
  cortexParamsOf,
  cortexTick,
  initialCortexState,
  type CortexParams,
  type CortexState,
} from './cortex.ts';
import { pruneSamples, windowAverage } from './window.ts';

// Cortex's defaults with a target of 1 in-flight request per replica.
const P: CortexParams = cortexParamsOf(
  applyDefaults('iris', { predictor: { type: 'python', path: 'p.py', image: 'i' } }).autoscaling,
);
// An autoscaler that started long ago, so the start-up hold is over.
const RUNNING: CortexState = { startedAt: -10_000, recommendations: [] };

test('Cortex params from the spec defaults: 60 s window, 5m/1m periods, factors and tolerances', () => {
  assert.deepEqual(P, {
    minReplicas: 1,
    maxReplicas: 100,
    targetReplicaConcurrency: 1,
    windowSeconds: 60,
    downscaleStabilizationSeconds: 300,
    upscaleStabilizationSeconds: 60,
    maxDownscaleFactor: 0.75,
    maxUpscaleFactor: 1.5,
    downscaleTolerance: 0.05,
    upscaleTolerance: 0.05,
  });
});

test('window average: mean of the samples in (now − window, now]; no sample → no data', () => {
  const samples = Array.from({ length: 120 }, (_, i) => ({ at: i + 1, value: i + 1 }));
  // samples 61..120: (61 + 120) / 2 = 90.5
  assert.equal(windowAverage(samples, 120, 60), 90.5);
  // the sample at exactly now − window (60) is out, the one at now (120) is in
  assert.equal(
    windowAverage(
      [
        { at: 60, value: 100 },
        { at: 120, value: 2 },
      ],
      120,
      60,
    ),
    2,
  );
  assert.equal(windowAverage([], 120, 60), undefined);
  assert.equal(windowAverage([{ at: 10, value: 5 }], 120, 60), undefined);
  assert.deepEqual(pruneSamples(samples, 120, 60).length, 60);
});

test('Cortex tolerance band holds the replicas: cur < raw < cur·1.05 and cur·0.95 < raw < cur (strict)', () => {
  // cur 20: up band (20, 21). raw 20.9 would be ⌈20.9⌉ = 21 without it.
  assert.equal(cortexTick(P, RUNNING, { now: 0, currentReplicas: 20, avgInFlight: 20.9 }).recommendation, 20);
  // raw 21 is not < 21: ⌈21⌉ = 21
  assert.equal(cortexTick(P, RUNNING, { now: 0, currentReplicas: 20, avgInFlight: 21 }).recommendation, 21);
  // cur 40: down band (38, 40). raw 38.5 would be ⌈38.5⌉ = 39 without it.
  assert.equal(cortexTick(P, RUNNING, { now: 0, currentReplicas: 40, avgInFlight: 38.5 }).recommendation, 40);
  // raw 38 is not > 38: ⌈38⌉ = 38
  assert.equal(cortexTick(P, RUNNING, { now: 0, currentReplicas: 40, avgInFlight: 38 }).recommendation, 38);
  // raw is divided by the target: 42 in flight / 2 per replica = 21 over cur 20 → 21
  assert.equal(
    cortexTick({ ...P, targetReplicaConcurrency: 2 }, RUNNING, { now: 0, currentReplicas: 20, avgInFlight: 42 }).raw,
    21,
  );
});

test('Cortex step limits: [min(cur−1, ⌈cur·0.75⌉), max(cur+1, ⌈cur·1.5⌉)] per tick', () => {
  // up from 4: max(5, ⌈6⌉) = 6, however much is asked
  const up = cortexTick(P, RUNNING, { now: 0, currentReplicas: 4, avgInFlight: 100 });
  assert.equal(up.recommendation, 6);
  assert.equal(up.request, 6);
  // up from 1: max(2, ⌈1.5⌉ = 2) = 2
  assert.equal(cortexTick(P, RUNNING, { now: 0, currentReplicas: 1, avgInFlight: 100 }).recommendation, 2);
  // down from 10 with no load: min(9, ⌈7.5⌉ = 8) = 8 (Cortex rounds the factor up)
  assert.equal(cortexTick(P, RUNNING, { now: 0, currentReplicas: 10, avgInFlight: 0 }).request, 8);
  // down from 2: min(1, ⌈1.5⌉ = 2) = 1: one less is always allowed
  assert.equal(cortexTick(P, RUNNING, { now: 0, currentReplicas: 2, avgInFlight: 0 }).request, 1);
});

test('Cortex min/max clamps come after the step limits', () => {
  // up from 4 is limited to 6, then to maxReplicas 5
  assert.equal(
    cortexTick({ ...P, maxReplicas: 5 }, RUNNING, { now: 0, currentReplicas: 4, avgInFlight: 100 }).request,
    5,
  );
  // down from 3 is limited to 2, then held at minReplicas 3: no change
  const held = cortexTick({ ...P, minReplicas: 3 }, RUNNING, { now: 0, currentReplicas: 3, avgInFlight: 0 });
  assert.equal(held.recommendation, 3);
  assert.equal(held.request, 3);
  // down from 1 with minReplicas 0: min(0, ⌈0.75⌉ = 1) = 0 → 0 (Cortex's own scale to zero)
  assert.equal(
    cortexTick({ ...P, minReplicas: 0 }, RUNNING, { now: 0, currentReplicas: 1, avgInFlight: 0 }).request,
    0,
  );
});

test(
  'Cortex stabilisation keeps the highest recommendation of the last 5 minutes when scaling down ' +
    '(boundary included)',
  () => {
    let s = RUNNING;
    const tick = (now: number, cur: number, avg: number) => {
      const t = cortexTick(P, s, { now, currentReplicas: cur, avgInFlight: avg });
      s = t.state;
      return t;
    };
    assert.equal(tick(0, 10, 10).request, 10); // records 10
    const low = tick(100, 10, 2); // ⌈2⌉ limited to 8, recorded; highest of 5 min = 10
    assert.equal(low.recommendation, 8);
    assert.equal(low.request, 10);
    assert.equal(tick(300, 10, 2).request, 10, 'the 10 recorded at t=0 is 300 s old: still in the period');
    assert.equal(tick(310, 10, 2).request, 8, 'at 310 s it is out: highest is 8');
  },
);

test('Cortex stabilisation: scaling up goes no higher than the lowest recommendation of the last minute', () => {
  let s = RUNNING;
  const tick = (now: number, cur: number, avg: number) => {
    const t = cortexTick(P, s, { now, currentReplicas: cur, avgInFlight: avg });
    s = t.state;
    return t;
  };
  assert.equal(tick(0, 4, 4).request, 4); // records 4
  // a spike: 100 in flight → limited to 6, but the lowest of the last minute is 4
  assert.equal(tick(10, 4, 100).request, 4);
  assert.equal(tick(60, 4, 100).request, 4, 'the 4 from t=0 is 60 s old: still in');
  assert.equal(tick(70, 4, 100).request, 6, 'at 70 s only 6s remain');
  // from 6 the step allows 9, but 6s were recorded within the minute: one step per minute
  const from6 = tick(80, 6, 100);
  assert.equal(from6.recommendation, 9);
  assert.equal(from6.request, 6);
});

test(
  'Cortex stabilisation never moves against the recommendation: ' +
    'the floor is capped at cur, the ceiling at least cur',
  () => {
    // 93 was recorded (a spike cut by the upscale stabilisation) while cur stayed 62; the load is gone
    const s: CortexState = { startedAt: -10_000, recommendations: [{ at: 0, replicas: 93 }] };
    const t = cortexTick(P, s, { now: 10, currentReplicas: 62, avgInFlight: 5 });
    assert.equal(t.recommendation, 47); // min(61, ⌈46.5⌉)
    assert.equal(t.request, 62, 'floor = min(93, 62): held, not raised to 93');
  },
);

test('Cortex with no data skips the tick: no change, nothing recorded', () => {
  const t = cortexTick(P, initialCortexState(), { now: 50, currentReplicas: 3, avgInFlight: undefined });
  assert.equal(t.skipped, true);
  assert.equal(t.request, 3);
  assert.deepEqual(t.state.recommendations, []);
  assert.equal(t.state.startedAt, 50, 'the first tick starts the clock even without data');
});

test('Cortex holds the replicas for one stabilisation period after its first tick', () => {
  let s = initialCortexState();
  const first = cortexTick(P, s, { now: 0, currentReplicas: 2, avgInFlight: 100 });
  s = first.state;
  assert.equal(first.recommendation, 3);
  assert.equal(first.request, 2, 'started 0 s ago < 60 s');
  const later = cortexTick(P, s, { now: 60, currentReplicas: 2, avgInFlight: 100 });
  assert.equal(later.request, 3, 'lowest of the minute: 3 (t=0) and 3 (t=60)');
  const down = cortexTick(P, later.state, { now: 120, currentReplicas: 3, avgInFlight: 0 });
  assert.equal(down.request, 3, 'started 120 s ago < 300 s: no scale down yet');
});

test('Cortex awaken: 0 → 1 at once, and not back to zero within the downscale period', () => {
  const Z = { ...P, minReplicas: 0 };
  const asleep: CortexState = { startedAt: -10_000, recommendations: [{ at: 990, replicas: 0 }] };
  const woken = cortexAwaken(asleep, 1000, 0);
  assert.equal(woken.request, 1);
  assert.equal(cortexAwaken(asleep, 1000, 3).request, 3, 'an API with replicas is left alone');
  assert.deepEqual(
    woken.state.recommendations.at(-1),
    { at: 1000, replicas: 1 },
    'the wake is recorded as a recommendation of 1',
  );
  // idle after the wake: the recommendation is 0 (min(0, ⌈0.75⌉)), but the highest of 5 min is the wake's 1
  const t = cortexTick(Z, woken.state, { now: 1010, currentReplicas: 1, avgInFlight: 0 });
  assert.equal(t.recommendation, 0);
  assert.equal(t.request, 1);
  const t1300 = cortexTick(Z, t.state, { now: 1300, currentReplicas: 1, avgInFlight: 0 });
  assert.equal(t1300.request, 1, 'the wake is 300 s old: still in the period');
  assert.equal(cortexTick(Z, t1300.state, { now: 1310, currentReplicas: 1, avgInFlight: 0 }).request, 0);
});
