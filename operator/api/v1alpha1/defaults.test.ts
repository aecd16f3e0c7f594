import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults, canonicalEndpoint, validateSpec, type RealtimeApiSpec } from './index.ts';

const minimal = { predictor: { type: 'python' as const, path: 'predictor.py' } };

test('applyDefaults fills in Cortex defaults', () => {
  const spec = applyDefaults('iris-classifier', minimal);
  const expected: RealtimeApiSpec = {
    predictor: {
      type: 'python',
      path: 'predictor.py',
      config: {},
      env: {},
      logLevel: 'info',
      processesPerReplica: 1,
      threadsPerProcess: 1,
      dependencies: { pip: 'requirements.txt', shell: 'dependencies.sh' },
    },
    compute: { cpu: '200m', gpu: 0 },
    autoscaling: {
      minReplicas: 1,
      maxReplicas: 100,
      initReplicas: 1,
      targetReplicaConcurrency: 1,
      maxReplicaConcurrency: 1024,
      window: '60s',
      downscaleStabilizationPeriod: '5m',
      upscaleStabilizationPeriod: '1m',
      maxDownscaleFactor: 0.75,
      maxUpscaleFactor: 1.5,
      downscaleTolerance: 0.05,
      upscaleTolerance: 0.05,
      scaleToZeroAfter: '5m',
    },
    updateStrategy: { maxSurge: '25%', maxUnavailable: '25%' },
    networking: { endpoint: '/iris-classifier', auth: 'none' },
  };
  assert.deepEqual(spec, expected);
  assert.deepEqual(validateSpec(spec), []);
  assert.equal(spec.predictor?.pythonPath, undefined);
  assert.equal(spec.predictor?.serverSideBatching, undefined);
  assert.equal(spec.compute.mem, undefined);
});

test('computed defaults follow the fields they come from', () => {
  const spec = applyDefaults('a', {
    predictor: { ...minimal.predictor, processesPerReplica: 2, threadsPerProcess: 4 },
    autoscaling: { minReplicas: 3 },
  });
  assert.equal(spec.autoscaling.initReplicas, 3);
  assert.equal(spec.autoscaling.targetReplicaConcurrency, 8);
  const explicit = applyDefaults('a', {
    ...minimal,
    autoscaling: { minReplicas: 3, initReplicas: 5, targetReplicaConcurrency: 2.5 },
    networking: { endpoint: '/v1/a' },
  });
  assert.equal(explicit.autoscaling.initReplicas, 5);
  assert.equal(explicit.autoscaling.targetReplicaConcurrency, 2.5);
  assert.equal(explicit.networking.endpoint, '/v1/a');
});

test('applyDefaults keeps what was given and does not mutate its input', () => {
  const input = {
    predictor: { ...minimal.predictor, config: { a: { b: 1 } }, env: { X: '1' }, logLevel: 'debug' as const },
    compute: { cpu: 2, gpu: 1, mem: '1Gi', nodeGroups: ['gpu'] },
  };
  const copy = structuredClone(input);
  const spec = applyDefaults('a', input);
  assert.deepEqual(input, copy);
  assert.deepEqual(spec.predictor?.config, { a: { b: 1 } });
  assert.deepEqual(spec.predictor?.env, { X: '1' });
  assert.equal(spec.predictor?.logLevel, 'debug');
  assert.deepEqual(spec.compute, { cpu: 2, gpu: 1, mem: '1Gi', nodeGroups: ['gpu'] });
  assert.deepEqual(spec.predictor?.dependencies, {
    pip: 'requirements.txt',
    shell: 'dependencies.sh',
  });
  const partialDeps = applyDefaults('a', { predictor: { ...minimal.predictor, dependencies: { pip: 'reqs.txt' } } });
  assert.deepEqual(partialDeps.predictor?.dependencies, {
    pip: 'reqs.txt',
    shell: 'dependencies.sh',
  });
});

test('normalisation: fractional quantities become strings, digit strings numbers, endpoints canonical', () => {
  const spec = applyDefaults('a', {
    ...minimal,
    compute: { cpu: 0.2, mem: 1.5 },
    updateStrategy: { maxSurge: '1', maxUnavailable: '0' },
    networking: { endpoint: 'x/y/' },
  });
  assert.equal(spec.compute.cpu, '0.2');
  assert.equal(spec.compute.mem, '1.5');
  assert.equal(spec.updateStrategy.maxSurge, 1);
  assert.equal(spec.updateStrategy.maxUnavailable, 0);
  assert.equal(spec.networking.endpoint, '/x/y');
  assert.equal(canonicalEndpoint('/'), '/');
  assert.equal(canonicalEndpoint('//a//b/'), '/a/b');
  assert.equal(canonicalEndpoint('iris'), '/iris');
});

test('applyDefaults tolerates malformed input (validation reports it)', () => {
  assert.doesNotThrow(() => applyDefaults('a', undefined as never));
  const spec = applyDefaults('a', { predictor: 'p.py', autoscaling: 3 } as never);
  assert.equal((spec as unknown as { predictor: unknown }).predictor, 'p.py');
  const issues = validateSpec(spec);
  assert.deepEqual(issues.map((i) => i.path.join('.')).sort(), ['autoscaling', 'predictor']);
});
