import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults, type RealtimeApiSpecInput } from '../../operator/api/v1alpha1/index.ts';
import { behaviorOf, desiredHpa } from '../../operator/reconcilers/hpa.ts';
import type { ApiInstance, ChildConfig } from '../../operator/reconcilers/types.ts';
import {
  hpaModelSpecOf,
  hpaSync,
  initialHpaState,
  KUBE_1_37_FLAGS,
  podsMetricReplicas,
  scaleDownLimit,
  scaleUpLimit,
  tolerancesOf,
  type HpaModelSpec,
  type HpaState,
  type PodMetric,
  stepLimits,
} from './hpa.ts';

const CONFIG: ChildConfig = {
  runtimeImage: 'cortex/runtime:test',
  hpaTolerance: true,
  clusterDomain: 'cluster.local',
  placement: { pools: [], tolerations: [] },
};

function api(autoscaling: RealtimeApiSpecInput['autoscaling'] = {}): ApiInstance {
  return {
    name: 'iris',
    namespace: 'ml',
    uid: 'u',
    generation: 1,
    spec: applyDefaults('iris', { predictor: { type: 'python', path: 'p.py', image: 'i' }, autoscaling }),
  };
}

/** The HPA the operator generates for Cortex's defaults, as the model reads it. */
const SPEC: HpaModelSpec = hpaModelSpecOf(desiredHpa(api(), CONFIG));
const T = tolerancesOf(SPEC, KUBE_1_37_FLAGS);

function pods(...milli: (number | undefined)[]): PodMetric[] {
  return milli.map((m, i) => ({ name: `p${i}`, phase: 'Running', milli: m }));
}

test("the operator's HPA as the model reads it: target 1 → 1000 milli, behavior from Cortex's fields", () => {
  assert.deepEqual(SPEC, {
    minReplicas: 1,
    maxReplicas: 100,
    targetMilli: 1000,
    scaleUp: {
      stabilizationWindowSeconds: 60,
      selectPolicy: 'Max',
      policies: [
        { type: 'Percent', value: 50, periodSeconds: 60 },
        { type: 'Pods', value: 1, periodSeconds: 60 },
      ],
      tolerance: 0.05,
    },
    scaleDown: {
      stabilizationWindowSeconds: 300,
      selectPolicy: 'Max',
      policies: [
        { type: 'Percent', value: 25, periodSeconds: 300 },
        { type: 'Pods', value: 1, periodSeconds: 300 },
      ],
      tolerance: 0.05,
    },
  });
  assert.equal(hpaModelSpecOf(desiredHpa(api({ targetReplicaConcurrency: 0.5 }), CONFIG)).targetMilli, 500);
  const bare = desiredHpa(api(), CONFIG);
  delete bare.spec!.behavior;
  assert.throws(() => hpaModelSpecOf(bare), /HPA iris: the model covers HPAs with spec.behavior/);
});

test('HPA tolerance band holds: ratio in [1 − 0.05, 1 + 0.05] (inclusive) keeps the current replicas', () => {
  assert.deepEqual(podsMetricReplicas(4, 1000, T, pods(1040, 1040, 1040, 1040)), { replicas: 4, usageMilli: 1040 });
  assert.equal(
    (podsMetricReplicas(4, 1000, T, pods(1050, 1050, 1050, 1050)) as { replicas: number }).replicas,
    4,
    '1.05 is inside',
  );
  // 1.06 × 4 = 4.24 → 5
  assert.equal((podsMetricReplicas(4, 1000, T, pods(1060, 1060, 1060, 1060)) as { replicas: number }).replicas, 5);
  // 0.95 is inside; 0.94 × 4 = 3.76 → 4: the ceiling keeps it anyway
  assert.equal((podsMetricReplicas(4, 1000, T, pods(950, 950, 950, 950)) as { replicas: number }).replicas, 4);
  // without the per-HPA tolerance (Kubernetes < 1.35, or the gate off) the cluster's 10% applies
  const old = tolerancesOf(SPEC, { ...KUBE_1_37_FLAGS, configurableTolerance: false });
  assert.deepEqual(old, { scaleUp: 0.1, scaleDown: 0.1 });
  assert.equal((podsMetricReplicas(4, 1000, old, pods(1060, 1060, 1060, 1060)) as { replicas: number }).replicas, 4);
});

test('HPA usage is the integer mean of the milli values: (1000 + 1001) / 2 = 1000', () => {
  assert.deepEqual(podsMetricReplicas(2, 1000, { scaleUp: 0, scaleDown: 0 }, pods(1000, 1001)), {
    replicas: 2,
    usageMilli: 1000,
  });
});

test('HPA pods without a value count as 0 when scaling up and as the target when scaling down', () => {
  // up: 3 × 2000 + 0 over 4 pods = 1500 → 1.5 × 4 = 6
  assert.deepEqual(podsMetricReplicas(4, 1000, T, pods(2000, 2000, 2000, undefined)), {
    replicas: 6,
    usageMilli: 2000,
  });
  // down: 3 × 200 + 1000 over 4 = 400 → 0.4 × 4 = 1.6 → 2 (with the 3 alone it would be ⌈0.6⌉ = 1)
  assert.deepEqual(podsMetricReplicas(4, 1000, T, pods(200, 200, 200, undefined)), { replicas: 2, usageMilli: 200 });
});

test('HPA pending pods are left out when scaling down and count as 0 when scaling up', () => {
  const pending: PodMetric = { name: 'new', phase: 'Pending' };
  // down: 2 × 200 over 2 ready = 0.2 → ⌈0.4⌉ = 1; the pending pod changes nothing
  assert.equal((podsMetricReplicas(3, 1000, T, [...pods(200, 200), pending]) as { replicas: number }).replicas, 1);
  // up: 2 × 1550 + 0 over 3 = 1033 → within 5%: hold at 3 (ready pods alone say ⌈1.55 × 2⌉ = 4)
  assert.equal((podsMetricReplicas(3, 1000, T, [...pods(1550, 1550), pending]) as { replicas: number }).replicas, 3);
  // deleting and failed pods are ignored
  assert.equal(
    (
      podsMetricReplicas(2, 1000, T, [
        ...pods(3000),
        { name: 'x', phase: 'Failed' },
        { name: 'y', phase: 'Running', deleting: true, milli: 0 },
      ]) as { replicas: number }
    ).replicas,
    3,
  );
});

test('HPA with no data skips the sync: an error, no rescale, nothing recorded but the first count', () => {
  assert.deepEqual(podsMetricReplicas(2, 1000, T, []), {
    error: 'no pods returned by selector while calculating replica count',
  });
  const r = hpaSync(SPEC, KUBE_1_37_FLAGS, initialHpaState(), {
    now: 0,
    specReplicas: 2,
    pods: [{ name: 'a', phase: 'Pending' }],
  });
  assert.equal(r.rescale, false);
  assert.equal(r.desiredReplicas, 2);
  assert.match(r.reason, /did not receive metrics/);
  assert.deepEqual(r.state.recommendations, [{ at: 0, replicas: 2 }]);
});

test(
  'HPA step limits: 50% or 1 pod per 60 s up (Percent rounds up), ' + '25% or 1 pod per 300 s down (Percent truncates)',
  () => {
    const none = initialHpaState();
    assert.equal(scaleUpLimit(4, none, SPEC.scaleUp, 0), 6); // max(⌈6⌉, 5)
    assert.equal(scaleUpLimit(1, none, SPEC.scaleUp, 0), 2); // max(⌈1.5⌉, 2)
    assert.equal(scaleDownLimit(10, none, SPEC.scaleDown, 0), 7); // min(⌊7.5⌋, 9): Cortex would stop at 8
    assert.equal(scaleDownLimit(2, none, SPEC.scaleDown, 0), 1); // min(⌊1.5⌋, 1)
    // 2 added at t=10: at t=69 the period (9, 69] counts them, so it starts from 4: max(⌈6⌉, 5) = 6 = current
    const grew: HpaState = { ...none, scaleUpEvents: [{ at: 10, replicas: 2 }] };
    assert.equal(scaleUpLimit(6, grew, SPEC.scaleUp, 69), 6);
    // at t=70 the event is not after 70 − 60: from 6, max(9, 7) = 9
    assert.equal(scaleUpLimit(6, grew, SPEC.scaleUp, 70), 9);
    // 3 removed at t=0: until t=300 the period starts from 10: min(⌊7.5⌋, 9) = 7 = current
    const shrank: HpaState = { ...none, scaleDownEvents: [{ at: 0, replicas: 3 }] };
    assert.equal(scaleDownLimit(7, shrank, SPEC.scaleDown, 299), 7);
    assert.equal(scaleDownLimit(7, shrank, SPEC.scaleDown, 300), 5); // min(⌊5.25⌋, 6)
  },
);

test('HPA stabilisation keeps the highest recommendation of the 300 s down window', () => {
  let s = initialHpaState();
  let cur = 10;
  const sync = (now: number, milli: number) => {
    const r = hpaSync(SPEC, KUBE_1_37_FLAGS, s, { now, specReplicas: cur, pods: pods(...Array(cur).fill(milli)) });
    s = r.state;
    cur = r.desiredReplicas;
    return r;
  };
  assert.equal(sync(0, 1000).desiredReplicas, 10); // records 10 (and the initial 10)
  for (let t = 15; t < 300; t += 15) {
    const r = sync(t, 200);
    assert.equal(r.proposal, 2); // ⌈0.2 × 10⌉
    assert.equal(r.desiredReplicas, 10, `t=${t}: 10 from t=0 is in the window`);
  }
  // at 300 the t=0 recommendations are not after 300 − 300: highest is 2, limited to ⌊7.5⌋ = 7
  const r = sync(300, 200);
  assert.equal(r.desiredReplicas, 7);
  assert.equal(r.reason, 'All metrics below target');
  assert.deepEqual(s.scaleDownEvents, [{ at: 300, replicas: 3 }]);
});

test(
  'HPA stabilisation: scaling up goes no higher than the lowest recommendation of the 60 s up window, ' +
    'then one step per period',
  () => {
    let s = initialHpaState();
    let cur = 2;
    const sync = (now: number, totalMilli: number) => {
      const r = hpaSync(SPEC, KUBE_1_37_FLAGS, s, {
        now,
        specReplicas: cur,
        pods: pods(...Array(cur).fill(Math.trunc(totalMilli / cur))),
      });
      s = r.state;
      cur = r.desiredReplicas;
      return r;
    };
    assert.equal(sync(0, 2000).desiredReplicas, 2);
    for (const t of [15, 30, 45])
      assert.equal(sync(t, 10_000).desiredReplicas, 2, `t=${t}: the 2 from t=0 is in the window`);
    // at 60 the window holds only 10s: stabilised 10, limited to max(⌈3⌉, 3) = 3
    assert.equal(sync(60, 10_000).desiredReplicas, 3);
    // the 60 s policy period counts the +1 of t=60 until t=120: the period starts from 2, limit 3
    for (const t of [75, 90, 105]) assert.equal(sync(t, 10_000).desiredReplicas, 3, `t=${t}: one step per period`);
    // at 120, from 3: max(⌈4.5⌉, 4) = 5
    assert.equal(sync(120, 10_000).desiredReplicas, 5);
  },
);

test('HPA min/max clamps: beyond the bounds it goes straight to them, within them the limits cap at the bounds', () => {
  const noWindows: HpaModelSpec = {
    ...SPEC,
    minReplicas: 2,
    maxReplicas: 5,
    scaleUp: { ...SPEC.scaleUp, stabilizationWindowSeconds: 0 },
    scaleDown: { ...SPEC.scaleDown, stabilizationWindowSeconds: 0 },
  };
  // 4 pods at 3000: ⌈12⌉ = 12, limited to 6, then to max 5
  assert.equal(
    hpaSync(noWindows, KUBE_1_37_FLAGS, initialHpaState(), {
      now: 0,
      specReplicas: 4,
      pods: pods(3000, 3000, 3000, 3000),
    }).desiredReplicas,
    5,
  );
  // 3 idle pods: 0, limited to ⌊2.25⌋ = 2, which is also min
  assert.equal(
    hpaSync(noWindows, KUBE_1_37_FLAGS, initialHpaState(), { now: 0, specReplicas: 3, pods: pods(0, 0, 0) })
      .desiredReplicas,
    2,
  );
  const above = hpaSync(noWindows, KUBE_1_37_FLAGS, initialHpaState(), { now: 0, specReplicas: 9, pods: [] });
  assert.deepEqual([above.desiredReplicas, above.reason], [5, 'Current number of replicas above Spec.MaxReplicas']);
  const below = hpaSync(noWindows, KUBE_1_37_FLAGS, initialHpaState(), { now: 0, specReplicas: 1, pods: [] });
  assert.deepEqual([below.desiredReplicas, below.reason], [2, 'Current number of replicas below Spec.MinReplicas']);
});

test('HPA at zero replicas (scaled to zero by someone else) disables itself and leaves them at zero', () => {
  const r = hpaSync(SPEC, KUBE_1_37_FLAGS, initialHpaState(), { now: 0, specReplicas: 0, pods: [] });
  assert.deepEqual([r.desiredReplicas, r.rescale, r.reason], [0, false, 'ScalingDisabled']);
});

test('HPA step limits match Cortex: [min(cur−1, ⌈cur·down⌉) (HPA rounds down), max(cur+1, ⌈cur·up⌉)]', () => {
  const b = behaviorOf(api(), { hpaTolerance: false });
  for (const cur of [1, 2, 3, 4, 7, 10, 33, 100]) {
    const [lo, hi] = stepLimits(cur, b);
    const cortexHi = Math.max(cur + 1, Math.ceil(cur * 1.5));
    const cortexLo = Math.min(cur - 1, Math.ceil(cur * 0.75));
    assert.equal(hi, cortexHi, `up from ${cur}`);
    assert.ok(lo <= cortexLo && lo >= cortexLo - 1, `down from ${cur}: HPA ${lo}, Cortex ${cortexLo}`);
  }
  assert.deepEqual(stepLimits(4, b), [3, 6]);
  assert.deepEqual(stepLimits(10, b), [7, 15]);
});
