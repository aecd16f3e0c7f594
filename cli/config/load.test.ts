import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadProject, type LoadedProject } from './load.ts';
import { ConfigError } from './errors.ts';
import { project } from './fixtures.ts';
import { applyDefaults, validateSpec, type RealtimeApiSpec } from '../../operator/api/v1alpha1/index.ts';

// The example from Cortex 0.25's docs, verbatim.
const CORTEX_025_EXAMPLE = `- name: iris-classifier
  kind: RealtimeAPI
  predictor:
    type: python
    path: predictor.py
    config:
      bucket: cortex-examples
      key: sklearn/iris-classifier/model.pkl
  monitoring:
    model_type: classification
  compute:
    cpu: 0.2
    mem: 200M
`;

test('a Cortex 0.25 example loads, with a warning about monitoring', () => {
  const dir = project({ 'cortex.yaml': CORTEX_025_EXAMPLE, 'predictor.py': 'class PythonPredictor:\n    pass\n' });
  const loaded = loadProject(dir);
  assert.equal(loaded.file, path.join(dir, 'cortex.yaml'));
  assert.equal(loaded.dir, dir);
  assert.equal(loaded.apis.length, 1);
  const [api] = loaded.apis;
  assert.equal(api.name, 'iris-classifier');
  assert.equal(api.kind, 'RealtimeAPI');
  assert.equal(api.line, 1);
  assert.deepEqual(api.spec.predictor?.config, { bucket: 'cortex-examples', key: 'sklearn/iris-classifier/model.pkl' });
  assert.deepEqual(api.spec.compute, { cpu: '0.2', gpu: 0, mem: '200M' });
  assert.equal(api.spec.networking.endpoint, '/iris-classifier');
  assert.deepEqual(validateSpec(api.spec), []);
  assert.equal(loaded.warnings.length, 1);
  const [warning] = loaded.warnings;
  assert.equal(warning.message, "ignored: monitoring was removed in Cortex 0.25; use the runtime's /metrics");
  assert.deepEqual([warning.line, warning.column, warning.api, warning.field], [9, 3, 'iris-classifier', 'monitoring']);
});

test("Cortex 0.15's tracker section is named in a warning, not refused as an unknown field", () => {
  const yaml = CORTEX_025_EXAMPLE.replace('  monitoring:\n', '  tracker:\n    key: label\n');
  const dir = project({ 'cortex.yaml': yaml, 'predictor.py': 'class PythonPredictor:\n    pass\n' });
  const [warning, ...rest] = loadProject(dir).warnings;
  assert.deepEqual(rest, []);
  assert.match(warning.message, /^ignored: tracker was Cortex 0\.15's prediction tracking/);
  assert.deepEqual([warning.line, warning.api, warning.field], [9, 'iris-classifier', 'tracker']);
});

const FULL = `# every field cortex.yaml knows
- name: sentiment
  kind: RealtimeAPI
  predictor:
    type: python
    path: src/predictor.py
    python_path: src
    image: registry.example.com/runtime:1
    log_level: debug
    processes_per_replica: 2
    threads_per_process: 3
    config:
      model_name: distilbert
      thresholds: {low: 0.2, high_value: 0.8}
      labels: [neg, pos]
    env:
      HF_HOME: /tmp/hf
      WORKERS: 4
    server_side_batching:
      max_batch_size: 8
      batch_interval: 100ms
    dependencies:
      pip: requirements-prod.txt
      shell: setup.sh
  compute:
    cpu: 1
    gpu: 1
    mem: 4Gi
    node_groups: [gpu-spot, gpu-on-demand]
  autoscaling:
    min_replicas: 2
    max_replicas: 10
    init_replicas: 3
    target_replica_concurrency: 4.5
    max_replica_concurrency: 64
    window: 1m30s
    downscale_stabilization_period: 10m
    upscale_stabilization_period: 30s
    max_downscale_factor: 0.5
    max_upscale_factor: 2
    downscale_tolerance: 0.1
    upscale_tolerance: 0.2
    scale_to_zero_after: 10m
  update_strategy:
    max_surge: 1
    max_unavailable: 0
  networking:
    endpoint: /v1/sentiment/
- name: summarizer
  kind: RealtimeAPI
  predictor:
    type: typescript
    path: summarizer.ts
`;

test('a full-featured file round-trips to the expected camelCase spec', () => {
  const dir = project({
    'cortex.yaml': FULL,
    'src/predictor.py': '',
    'summarizer.ts': '',
    'requirements-prod.txt': '',
    'setup.sh': '',
  });
  const loaded = loadProject(dir);
  assert.deepEqual(loaded.warnings, []);
  assert.deepEqual(
    loaded.apis.map((a) => [a.name, a.line]),
    [
      ['sentiment', 2],
      ['summarizer', 49],
    ],
  );
  const expected: RealtimeApiSpec = {
    predictor: {
      type: 'python',
      path: 'src/predictor.py',
      pythonPath: 'src',
      image: 'registry.example.com/runtime:1',
      logLevel: 'debug',
      processesPerReplica: 2,
      threadsPerProcess: 3,
      config: { model_name: 'distilbert', thresholds: { low: 0.2, high_value: 0.8 }, labels: ['neg', 'pos'] },
      env: { HF_HOME: '/tmp/hf', WORKERS: '4' },
      serverSideBatching: { maxBatchSize: 8, batchInterval: '100ms' },
      dependencies: { pip: 'requirements-prod.txt', shell: 'setup.sh' },
    },
    compute: { cpu: 1, gpu: 1, mem: '4Gi', nodeGroups: ['gpu-spot', 'gpu-on-demand'] },
    autoscaling: {
      minReplicas: 2,
      maxReplicas: 10,
      initReplicas: 3,
      targetReplicaConcurrency: 4.5,
      maxReplicaConcurrency: 64,
      window: '1m30s',
      downscaleStabilizationPeriod: '10m',
      upscaleStabilizationPeriod: '30s',
      maxDownscaleFactor: 0.5,
      maxUpscaleFactor: 2,
      downscaleTolerance: 0.1,
      upscaleTolerance: 0.2,
      scaleToZeroAfter: '10m',
    },
    updateStrategy: { maxSurge: 1, maxUnavailable: 0 },
    networking: { endpoint: '/v1/sentiment', auth: 'none' },
  };
  assert.deepEqual(loaded.apis[0].spec, expected);
  assert.deepEqual(
    loaded.apis[1].spec,
    applyDefaults('summarizer', { predictor: { type: 'typescript', path: 'summarizer.ts' } }),
  );
  assert.equal(loaded.apis[1].spec.networking.endpoint, '/summarizer');
  // the spec survives JSON (what a RealtimeAPI resource carries)
  assert.deepEqual(JSON.parse(JSON.stringify(loaded.apis[0].spec)), expected);
});

test('a folder, cortex.yaml, cortex.yml or any named file', () => {
  const yaml = '- name: a\n  kind: RealtimeAPI\n  predictor: {type: python, path: p.py}\n';
  const dir = project({ 'cortex.yml': yaml, 'p.py': '', 'other.yaml': yaml });
  assert.equal(loadProject(dir).file, path.join(dir, 'cortex.yml'));
  assert.equal(loadProject(path.join(dir, 'other.yaml')).apis[0].name, 'a');
  fs.writeFileSync(path.join(dir, 'cortex.yaml'), yaml.replace('name: a', 'name: b'));
  assert.equal(loadProject(dir).apis[0].name, 'b', 'cortex.yaml comes first');
});

test('a single mapping is accepted as one API, without a warning', () => {
  const dir = project({
    'cortex.yaml': 'name: solo\nkind: RealtimeAPI\npredictor:\n  type: python\n  path: p.py\n',
    'p.py': '',
  });
  const loaded: LoadedProject = loadProject(dir);
  assert.deepEqual(
    loaded.apis.map((a) => [a.name, a.line]),
    [['solo', 1]],
  );
  assert.deepEqual(loaded.warnings, []);
});

test('Cortex-only settings that are harmless load with warnings', () => {
  const dir = project({
    'p.py': '',
    'cortex.yaml': `- name: a
  kind: RealtimeAPI
  predictor:
    type: python
    path: p.py
    shm_size: 1Gi
  compute:
    inf: 0
  networking:
    api_gateway: public
    local_port: 8890
`,
  });
  const loaded = loadProject(dir);
  assert.deepEqual(
    loaded.warnings.map((w) => [w.line, w.field]),
    [
      [6, 'predictor.shm_size'],
      [10, 'networking.api_gateway'],
      [11, 'networking.local_port'],
    ],
  );
  assert.match(loaded.warnings[1].message, /^ignored: networking.api_gateway/);
  assert.equal(loaded.apis[0].spec.networking.endpoint, '/a');
});

test('null fields mean "not set"', () => {
  const dir = project({
    'p.py': '',
    'cortex.yaml':
      '- name: a\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: p.py\n    config:\n' +
      '  autoscaling:\n    min_replicas:\n',
  });
  const [api] = loadProject(dir).apis;
  assert.deepEqual(api.spec.predictor?.config, {});
  assert.equal(api.spec.autoscaling.minReplicas, 1);
});

test('YAML anchors and merge keys work as in Go yaml', () => {
  const dir = project({
    'p.py': '',
    'cortex.yaml': `- name: a
  kind: RealtimeAPI
  predictor: &p
    type: python
    path: p.py
  compute: &c {cpu: 1, mem: 1Gi}
- name: b
  kind: RealtimeAPI
  predictor: *p
  compute:
    <<: *c
    cpu: 2
`,
  });
  const [a, b] = loadProject(dir).apis;
  assert.deepEqual(a.spec.predictor, b.spec.predictor);
  assert.deepEqual(b.spec.compute, { cpu: 2, mem: '1Gi', gpu: 0 });
});

test('ConfigError is an Error whose message lists every issue', () => {
  const dir = project({
    'cortex.yaml':
      '- name: a\n  kind: RealtimeAPI\n  predictor: {type: python, path: p.py}\n  compute: {cpu: lots, gpu: 0.5}\n',
    'p.py': '',
  });
  assert.throws(
    () => loadProject(dir),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError && err instanceof Error);
      assert.equal(err.name, 'ConfigError');
      assert.equal(err.issues.length, 2);
      assert.equal(err.message.split('\n').length, 2);
      return true;
    },
  );
});

test('paths inside the working directory are shown relative to it', () => {
  const dir = project({
    'cortex.yaml': '- name: a\n  kind: RealtimeAPI\n  predictor: {type: python, path: p.py}\n  compute: {cpu: lots}\n',
    'p.py': '',
  });
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    assert.throws(
      () => loadProject('.'),
      (err: Error) => /^cortex\.yaml:4:18: api "a": compute\.cpu: must be a CPU quantity/.test(err.message),
    );
  } finally {
    process.chdir(cwd);
  }
});
