import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RealtimeApiSpecSchema,
  applyDefaults,
  validateApiName,
  validateSpec,
  type RealtimeApiSpecInput,
  type SpecIssue,
} from './index.ts';

const base = { predictor: { type: 'python' as const, path: 'predictor.py' } };

function issuesFor(input: unknown, name = 'api'): SpecIssue[] {
  return validateSpec(applyDefaults(name, input as RealtimeApiSpecInput));
}

/** Merges `patch` into the minimal spec, one level deep per section. */
function withPatch(patch: Record<string, Record<string, unknown>>): unknown {
  const out: Record<string, unknown> = structuredClone(base);
  for (const [section, fields] of Object.entries(patch)) out[section] = { ...(out[section] as object), ...fields };
  return out;
}

function only(issues: SpecIssue[], path: string, label = path): SpecIssue {
  assert.equal(issues.length, 1, `${label}: expected exactly one issue, got ${JSON.stringify(issues, null, 1)}`);
  assert.equal(issues[0].path.join('.'), path);
  assert.ok(issues[0].fix, 'every issue has a fix');
  return issues[0];
}

test('a defaulted minimal spec is valid', () => {
  assert.deepEqual(issuesFor(base), []);
  assert.deepEqual(issuesFor({ predictor: { type: 'typescript', path: 'predictor.ts' } }), []);
});

test('required fields', () => {
  assert.match(only(issuesFor({}), 'predictor').message, /is required/);
  const missing = issuesFor({ predictor: {} })
    .map((i) => i.path.join('.'))
    .sort();
  assert.deepEqual(missing, ['predictor.path', 'predictor.type']);
  assert.match(
    only(issuesFor({ predictor: { type: 'python' } }), 'predictor.path').fix!,
    /relative to the project folder/,
  );
});

test('enums list the allowed values', () => {
  const t = only(issuesFor({ predictor: { type: 'tensorflow', path: 'x' } }), 'predictor.type');
  assert.deepEqual(t.allowed, ['python', 'typescript', 'onnx']);
  assert.match(t.message, /one of: python, typescript/);
  assert.deepEqual(only(issuesFor(withPatch({ predictor: { logLevel: 'verbose' } })), 'predictor.logLevel').allowed, [
    'debug',
    'info',
    'warning',
    'error',
  ]);
});

test('exactly one issue per bad value', () => {
  const cases: [Record<string, Record<string, unknown>>, string, RegExp][] = [
    [{ compute: { cpu: 'lots' } }, 'compute.cpu', /CPU quantity/],
    [{ compute: { cpu: -1 } }, 'compute.cpu', /negative/],
    [{ compute: { cpu: '-200m' } }, 'compute.cpu', /negative/],
    [{ compute: { cpu: true } }, 'compute.cpu', /quantity/],
    [{ compute: { mem: '1gb' } }, 'compute.mem', /memory quantity/],
    [{ compute: { mem: '200m' } }, 'compute.mem', /millibytes/],
    [{ compute: { gpu: 1.5 } }, 'compute.gpu', /whole number/],
    [{ compute: { gpu: -1 } }, 'compute.gpu', /≥ 0/],
    [{ compute: { gpu: '1' } }, 'compute.gpu', /whole number/],
    [{ compute: { nodeGroups: 'gpu' } }, 'compute.nodeGroups', /a list/],
    [{ predictor: { processesPerReplica: 0 } }, 'predictor.processesPerReplica', /≥ 1/],
    [{ predictor: { threadsPerProcess: 'many' } }, 'predictor.threadsPerProcess', /whole number/],
    [{ predictor: { path: '' } }, 'predictor.path', /empty/],
    [{ predictor: { config: [] } }, 'predictor.config', /mapping/],
    [{ predictor: { env: { 'BAD NAME': 'x' } } }, 'predictor.env.BAD NAME', /environment variable name/],
    [{ predictor: { env: { A: 1 } } }, 'predictor.env.A', /a string/],
    [
      { predictor: { serverSideBatching: { maxBatchSize: 8 } } },
      'predictor.serverSideBatching.batchInterval',
      /required/,
    ],
    [
      { predictor: { serverSideBatching: { maxBatchSize: 8, batchInterval: '0s' } } },
      'predictor.serverSideBatching.batchInterval',
      /greater than 0/,
    ],
    [
      { predictor: { serverSideBatching: { maxBatchSize: 0, batchInterval: '10ms' } } },
      'predictor.serverSideBatching.maxBatchSize',
      /≥ 1/,
    ],
    [{ autoscaling: { window: '65s' } }, 'autoscaling.window', /multiple of 10s/],
    [{ autoscaling: { window: '5s' } }, 'autoscaling.window', /multiple of 10s/],
    [{ autoscaling: { window: 60 } }, 'autoscaling.window', /a string/],
    [
      { autoscaling: { downscaleStabilizationPeriod: '5 minutes' } },
      'autoscaling.downscaleStabilizationPeriod',
      /duration/,
    ],
    [{ autoscaling: { minReplicas: -1, initReplicas: 0 } }, 'autoscaling.minReplicas', /≥ 0/],
    [{ autoscaling: { maxReplicas: 0, minReplicas: 0 } }, 'autoscaling.maxReplicas', /≥ 1/],
    [{ autoscaling: { minReplicas: 5, maxReplicas: 2 } }, 'autoscaling.minReplicas', /≤ maxReplicas \(2\)/],
    [
      { autoscaling: { minReplicas: 2, maxReplicas: 5, initReplicas: 6 } },
      'autoscaling.initReplicas',
      /between minReplicas \(2\) and maxReplicas \(5\)/,
    ],
    [{ autoscaling: { minReplicas: 2, maxReplicas: 5, initReplicas: 1 } }, 'autoscaling.initReplicas', /between/],
    [{ autoscaling: { targetReplicaConcurrency: 0 } }, 'autoscaling.targetReplicaConcurrency', /greater than 0/],
    [{ autoscaling: { maxDownscaleFactor: 1 } }, 'autoscaling.maxDownscaleFactor', /less than 1/],
    [{ autoscaling: { maxDownscaleFactor: 0 } }, 'autoscaling.maxDownscaleFactor', /greater than 0/],
    [{ autoscaling: { maxDownscaleFactor: 1.5 } }, 'autoscaling.maxDownscaleFactor', /less than 1/],
    [{ autoscaling: { maxUpscaleFactor: 1 } }, 'autoscaling.maxUpscaleFactor', /greater than 1/],
    [{ autoscaling: { maxUpscaleFactor: 0.5 } }, 'autoscaling.maxUpscaleFactor', /greater than 1/],
    [{ autoscaling: { downscaleTolerance: -0.1 } }, 'autoscaling.downscaleTolerance', /≥ 0/],
    [
      { updateStrategy: { maxSurge: 0, maxUnavailable: 0 } },
      'updateStrategy.maxUnavailable',
      /must not be 0 when maxSurge is 0/,
    ],
    [{ updateStrategy: { maxSurge: '0%', maxUnavailable: '0%' } }, 'updateStrategy.maxUnavailable', /must not be 0/],
    [{ updateStrategy: { maxSurge: 'lots' } }, 'updateStrategy.maxSurge', /percentage/],
    [{ updateStrategy: { maxSurge: -1 } }, 'updateStrategy.maxSurge', /percentage/],
    [{ updateStrategy: { maxUnavailable: '150%' } }, 'updateStrategy.maxUnavailable', /at most 100%/],
    [{ networking: { endpoint: '/a b' } }, 'networking.endpoint', /not a valid endpoint/],
    // dot segments: a client's URL is normalised before routing, so these paths are never reached
    [{ networking: { endpoint: '/../x' } }, 'networking.endpoint', /"\/\.\.\/x" has a "\." or "\.\." segment/],
    [{ networking: { endpoint: '/a/./b' } }, 'networking.endpoint', /"\." or "\.\." segment/],
    [{ networking: { endpoint: '/a/..' } }, 'networking.endpoint', /"\." or "\.\." segment/],
    // sane maxima, named in the message
    [{ compute: { cpu: 1e99 } }, 'compute.cpu', /at most 1024 cores/],
    [{ compute: { cpu: '1025' } }, 'compute.cpu', /at most 1024 cores/],
    [{ compute: { mem: 1e99 } }, 'compute.mem', /at most 64Ti/],
    [{ compute: { mem: '65Ti' } }, 'compute.mem', /at most 64Ti/],
    [{ compute: { gpu: 17 } }, 'compute.gpu', /≤ 16/],
    [{ predictor: { threadsPerProcess: 100000 } }, 'predictor.threadsPerProcess', /≤ 1024 \(got 100000\)/],
    [{ predictor: { processesPerReplica: 257 } }, 'predictor.processesPerReplica', /≤ 256/],
    // project files: inside the project folder only
    [{ predictor: { path: '/abs/predictor.py' } }, 'predictor.path', /absolute path/],
    [{ predictor: { path: '../predictor.py' } }, 'predictor.path', /outside the project folder/],
    [{ predictor: { pythonPath: '/opt/lib' } }, 'predictor.pythonPath', /absolute path/],
    [{ predictor: { pythonPath: 'lib/../../x' } }, 'predictor.pythonPath', /outside the project folder/],
    [{ predictor: { pythonPath: '..' } }, 'predictor.pythonPath', /outside the project folder/],
    [{ predictor: { dependencies: { pip: '../requirements.txt' } } }, 'predictor.dependencies.pip', /outside/],
    [{ predictor: { dependencies: { shell: '/etc/setup.sh' } } }, 'predictor.dependencies.shell', /absolute/],
  ];
  for (const [patch, path, message] of cases) {
    const issue = only(issuesFor(withPatch(patch)), path, JSON.stringify(patch));
    assert.match(issue.message, message, `${path}: ${issue.message}`);
  }
});

test('valid edge values', () => {
  const valid: Record<string, Record<string, unknown>>[] = [
    { compute: { cpu: 1, mem: 1073741824 } },
    { compute: { cpu: '0.5', mem: '200M', gpu: 2, nodeGroups: ['a', 'b'] } },
    { autoscaling: { minReplicas: 0, maxReplicas: 1, window: '1m30s' } },
    { autoscaling: { minReplicas: 3, maxReplicas: 3 } },
    { updateStrategy: { maxSurge: 0, maxUnavailable: 1 } },
    { updateStrategy: { maxSurge: '200%', maxUnavailable: 0 } },
    { predictor: { serverSideBatching: { maxBatchSize: 8, batchInterval: '100ms' }, threadsPerProcess: 2 } },
    { networking: { endpoint: '/' } },
    { networking: { endpoint: '/v1/iris-classifier' } },
    { networking: { endpoint: '/v1.2/.well-known/..x' } },
    { compute: { cpu: 1024, mem: '64Ti', gpu: 16 } },
    { compute: { cpu: '1024000m' } },
    { predictor: { processesPerReplica: 256, threadsPerProcess: 1024 } },
    {
      predictor: { path: './src/predictor.py', pythonPath: 'src/', dependencies: { pip: '.reqs/..a', shell: 's.sh' } },
    },
    { predictor: { pythonPath: '.' } },
  ];
  for (const patch of valid) {
    assert.deepEqual(issuesFor(withPatch(patch)), [], JSON.stringify(patch));
  }
});

test('the maxima are said in the schema descriptions', () => {
  const p = RealtimeApiSpecSchema.properties.predictor.properties;
  const c = RealtimeApiSpecSchema.properties.compute.properties;
  assert.match(p.threadsPerProcess.description!, /at most 1024/);
  assert.match(p.processesPerReplica.description!, /at most 256/);
  assert.match(c.cpu.description!, /at most 1024 cores/);
  assert.match(c.mem.description!, /at most 64Ti/);
  assert.match(c.gpu.description!, /at most 16/);
  assert.match(p.pythonPath.description!, /not absolute, no \.\./);
});

test('server-side batching does not require threadsPerProcess == maxBatchSize', () => {
  assert.deepEqual(
    issuesFor(
      withPatch({
        predictor: { threadsPerProcess: 1, serverSideBatching: { maxBatchSize: 32, batchInterval: '50ms' } },
      }),
    ),
    [],
  );
});

test('all issues are collected, not only the first', () => {
  const issues = issuesFor(
    withPatch({
      compute: { cpu: 'lots', gpu: 0.5 },
      autoscaling: { minReplicas: 9, maxReplicas: 3, window: '15s' },
      predictor: { logLevel: 'loud' },
    }),
  );
  assert.deepEqual(issues.map((i) => i.path.join('.')).sort(), [
    'autoscaling.minReplicas',
    'autoscaling.window',
    'compute.cpu',
    'compute.gpu',
    'predictor.logLevel',
  ]);
});

test('unknown fields are reported with the allowed names', () => {
  const issue = only(validateSpec({ ...applyDefaults('a', base), autoscale: {} }), 'autoscale');
  assert.match(issue.message, /unknown field/);
  assert.ok(issue.allowed!.includes('autoscaling'));
  const nested = only(
    validateSpec(applyDefaults('a', withPatch({ compute: { cpus: 1 } }) as RealtimeApiSpecInput)),
    'compute.cpus',
  );
  assert.deepEqual(nested.allowed, ['cpu', 'gpu', 'mem', 'nodeGroups']);
  assert.deepEqual(
    issuesFor(withPatch({ predictor: { config: { anything: { goes: [1] } } } })),
    [],
    'config is free-form',
  );
});

test('rename speaks another naming in messages and fixes', () => {
  const snake = (p: string[]) => p.map((s) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
  const [issue] = validateSpec(
    applyDefaults('a', withPatch({ autoscaling: { minReplicas: 5, maxReplicas: 2 } }) as RealtimeApiSpecInput),
    { rename: snake },
  );
  assert.equal(issue.message, 'must be ≤ max_replicas (2)');
  assert.match(issue.fix!, /lower min_replicas to 2 or less, or raise max_replicas to 5 or more/);
  assert.deepEqual(issue.path, ['autoscaling', 'minReplicas'], 'paths stay spec paths');
});

test('validateSpec works on raw (undefaulted) resources too', () => {
  assert.deepEqual(validateSpec(base), []);
  const [issue] = validateSpec({ ...base, compute: { cpu: 0.5 } });
  assert.equal(issue.path.join('.'), 'compute.cpu');
  assert.match(issue.fix!, /"0.5"/);
});

test('validateApiName: DNS-1123 labels', () => {
  for (const ok of ['iris', 'iris-classifier', 'a', 'a1', '1a', 'x'.repeat(63)])
    assert.equal(validateApiName(ok), undefined, ok);
  for (const bad of ['Iris', 'iris_classifier', '-a', 'a-', 'a.b', '', 'x'.repeat(64), 5, undefined]) {
    assert.ok(validateApiName(bad), String(bad));
  }
  assert.match(validateApiName('Iris_Classifier')!.fix, /iris-classifier/);
});

test('dependencies.conda is refused, but for the former default that stored objects may carry', () => {
  const issue = only(
    issuesFor(withPatch({ predictor: { dependencies: { conda: 'env.txt' } } })),
    'predictor.dependencies.conda',
  );
  assert.equal(issue.message, 'conda is not supported (env.txt would not be installed)');
  assert.match(issue.fix!, /predictor\.dependencies\.pip .*predictor\.dependencies\.shell/);
  assert.deepEqual(issuesFor(withPatch({ predictor: { dependencies: { conda: 'conda-packages.txt' } } })), []);
  assert.deepEqual(issuesFor(withPatch({ predictor: { dependencies: { shell: 'setup.sh' } } })), []);
});
