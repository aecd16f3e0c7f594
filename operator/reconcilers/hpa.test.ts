// The HPA reconciler's desired object: target, bounds, metric and the scaling behavior.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { behaviorOf, desiredHpa, quantityOf } from './hpa.ts';
import { api, config } from './test-fixtures.ts';

test('HPA: target, bounds, metric', () => {
  const a = api({ autoscaling: { minReplicas: 2, maxReplicas: 10, targetReplicaConcurrency: 4 } });
  const h = desiredHpa(a, config(a));
  assert.deepEqual(h.spec?.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'iris' });
  assert.equal(h.spec?.minReplicas, 2);
  assert.equal(h.spec?.maxReplicas, 10);
  assert.deepEqual(h.spec?.metrics, [
    {
      type: 'Pods',
      pods: { metric: { name: 'cortex_in_flight_requests' }, target: { type: 'AverageValue', averageValue: '4' } },
    },
  ]);
  // the default target is processes × threads
  const b = api({
    predictor: { type: 'python', path: 'p.py', image: 'i', processesPerReplica: 2, threadsPerProcess: 3 },
  });
  assert.equal(desiredHpa(b, config(b)).spec?.metrics?.[0].pods?.target.averageValue, '6');
  // minReplicas 0 (scale to zero) needs an alpha gate: the HPA keeps 1
  const z = api({ autoscaling: { minReplicas: 0, maxReplicas: 3 } });
  assert.equal(desiredHpa(z, config(z)).spec?.minReplicas, 1);
  assert.deepEqual(
    [quantityOf(2), quantityOf(0.5), quantityOf(2.25), quantityOf(0.0001)],
    ['2', '500m', '2250m', '1m'],
  );
});

test('HPA behavior from Cortex defaults: windows, Percent and Pods policies (one step per window), tolerances', () => {
  const a = api({});
  const b = behaviorOf(a, { hpaTolerance: true });
  assert.deepEqual(b.scaleUp, {
    stabilizationWindowSeconds: 60,
    selectPolicy: 'Max',
    policies: [
      { type: 'Percent', value: 50, periodSeconds: 60 },
      { type: 'Pods', value: 1, periodSeconds: 60 },
    ],
    tolerance: '0.05',
  });
  assert.deepEqual(b.scaleDown, {
    stabilizationWindowSeconds: 300,
    selectPolicy: 'Max',
    policies: [
      { type: 'Percent', value: 25, periodSeconds: 300 },
      { type: 'Pods', value: 1, periodSeconds: 300 },
    ],
    tolerance: '0.05',
  });
  assert.equal(
    behaviorOf(a, { hpaTolerance: false }).scaleUp.tolerance,
    undefined,
    'older API servers do not know tolerance',
  );
  const c = api({
    autoscaling: {
      upscaleStabilizationPeriod: '90s',
      downscaleStabilizationPeriod: '2h',
      maxUpscaleFactor: 3,
      maxDownscaleFactor: 0.5,
    },
  });
  const bc = behaviorOf(c, { hpaTolerance: false });
  assert.equal(bc.scaleUp.stabilizationWindowSeconds, 90);
  assert.equal(bc.scaleDown.stabilizationWindowSeconds, 3600, 'capped at the HPA maximum');
  assert.equal(bc.scaleUp.policies![0].value, 200);
  assert.equal(bc.scaleDown.policies![0].value, 50);
  assert.deepEqual(
    bc.scaleUp.policies!.map((p) => p.periodSeconds),
    [90, 90],
  );
  assert.deepEqual(
    bc.scaleDown.policies!.map((p) => p.periodSeconds),
    [1800, 1800],
    'a policy period is at most 30 min',
  );
  const fast = behaviorOf(
    api({ autoscaling: { upscaleStabilizationPeriod: '0s', downscaleStabilizationPeriod: '10s' } }),
    { hpaTolerance: false },
  );
  assert.deepEqual(
    [fast.scaleUp.stabilizationWindowSeconds, fast.scaleUp.policies![0].periodSeconds],
    [0, 15],
    'no window: one step per 15 s sync',
  );
  assert.deepEqual([fast.scaleDown.stabilizationWindowSeconds, fast.scaleDown.policies![1].periodSeconds], [10, 15]);
});
