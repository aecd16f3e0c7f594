// Mistakes in what a field's value is: quantities (cpu, gpu, mem), replica counts against each
// other, durations, limits on endpoints, compute and threads; and numbers Cortex accepted, which
// still load. Reported with file, line, api, field and fix.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectIssue, failing, project, realtimeApi } from './fixtures.ts';
import { loadProject } from './load.ts';
import { ConfigError } from './errors.ts';

test('bad quantities, gpu not whole, bad mem', () => {
  const err = failing(realtimeApi('a', '  compute:\n    cpu: lots\n    gpu: 1.5\n    mem: 2GB\n'));
  expectIssue(err, {
    line: 7,
    field: 'compute.cpu',
    api: 'a',
    message: /must be a CPU quantity such as 200m, 0\.5 or 2 \(got "lots"\)/,
    fix: /millicores/,
  });
  expectIssue(err, { line: 8, field: 'compute.gpu', api: 'a', message: /must be a whole number/ });
  expectIssue(err, { line: 9, field: 'compute.mem', api: 'a', message: /memory quantity/, fix: /Mi, Gi/ });
  const milli = failing(realtimeApi('a', '  compute:\n    mem: 512m\n'));
  expectIssue(milli, { line: 7, field: 'compute.mem', api: 'a', message: /millibytes/, fix: /512M .* 512Mi/ });
});

test('numbers are accepted where Cortex accepted them', () => {
  const dir = project({
    'predictor.py': '',
    'cortex.yaml':
      realtimeApi('a', '  compute:\n    cpu: 1\n    mem: 200M\n') +
      realtimeApi('b', '  compute:\n    cpu: 0.2\n    mem: 1073741824\n'),
  });
  const [a, b] = loadProject(dir).apis;
  assert.deepEqual(
    [a.spec.compute.cpu, a.spec.compute.mem, b.spec.compute.cpu, b.spec.compute.mem],
    [1, '200M', '0.2', 1073741824],
  );
});

test('min_replicas > max_replicas', () => {
  const err = failing(realtimeApi('iris-classifier', '  autoscaling:\n    min_replicas: 7\n    max_replicas: 5\n'));
  const issue = expectIssue(err, {
    line: 7,
    field: 'autoscaling.min_replicas',
    api: 'iris-classifier',
    message: /^must be ≤ max_replicas \(5\)$/,
    fix: /lower min_replicas to 5 or less, or raise max_replicas to 7 or more/,
  });
  assert.equal(issue.column, 19);
  assert.equal(err.issues.length, 1);
});

test('min_replicas above the default max_replicas', () => {
  const err = failing(realtimeApi('a', '  autoscaling:\n    min_replicas: 200\n'));
  expectIssue(err, { line: 7, field: 'autoscaling.min_replicas', api: 'a', message: /≤ max_replicas \(100\)/ });
});

test('init_replicas outside [min, max]', () => {
  const err = failing(
    realtimeApi('a', '  autoscaling:\n    min_replicas: 2\n    max_replicas: 4\n    init_replicas: 9\n'),
  );
  expectIssue(err, {
    line: 9,
    field: 'autoscaling.init_replicas',
    api: 'a',
    message: /between min_replicas \(2\) and max_replicas \(4\)/,
    fix: /defaults to min_replicas/,
  });
});

test('window must be a multiple of 10s; durations must parse', () => {
  const err = failing(
    realtimeApi(
      'a',
      '  autoscaling:\n    window: 45s\n    downscale_stabilization_period: 5 minutes\n' +
        '    upscale_stabilization_period: 60\n  predictor2: {}\n',
    ),
  );
  expectIssue(err, {
    line: 7,
    field: 'autoscaling.window',
    api: 'a',
    message: /multiple of 10s \(got 45s\)/,
    fix: /50s/,
  });
  expectIssue(err, {
    line: 8,
    field: 'autoscaling.downscale_stabilization_period',
    api: 'a',
    message: /must be a duration/,
  });
  expectIssue(err, {
    line: 9,
    field: 'autoscaling.upscale_stabilization_period',
    api: 'a',
    message: /must be a string/,
  });
  expectIssue(err, { line: 10, field: 'predictor2', api: 'a', message: /did you mean "predictor"/ });
});

test('the first error names what the user wrote, not a default computed from it', () => {
  const first = (err: ConfigError) => err.message.split('\n')[0];
  const min = failing(realtimeApi('a', '  autoscaling:\n    min_replicas: -2\n'));
  assert.match(first(min), /: api "a": autoscaling\.min_replicas: must be ≥ 0 \(got -2\)/);
  assert.deepEqual(
    min.issues.map((i) => i.field),
    ['autoscaling.min_replicas'],
    'init_replicas, left out, is not reported',
  );
  const name = failing(realtimeApi('"Bad Name!"'));
  assert.match(first(name), /: api "Bad Name!": name: "Bad Name!" is not a valid name/);
  assert.deepEqual(
    name.issues.map((i) => i.field),
    ['name'],
    'the endpoint, left out, is not reported',
  );
  const threads = failing(realtimeApi('a', '    threads_per_process: 100000\n'));
  assert.deepEqual(
    threads.issues.map((i) => i.field),
    ['predictor.threads_per_process'],
  );
  // written by the user, a bad value is reported even when it could have been computed
  const init = failing(realtimeApi('a', '  autoscaling:\n    min_replicas: -2\n    init_replicas: -3\n'));
  assert.deepEqual(init.issues.map((i) => i.field).sort(), ['autoscaling.init_replicas', 'autoscaling.min_replicas']);
});

test('endpoints with dot segments, and absurd compute and threads, are refused with the limit', () => {
  const err = failing(
    realtimeApi('a', '  networking:\n    endpoint: /../x\n') +
      realtimeApi('b', '  compute:\n    cpu: 1e99\n') +
      realtimeApi('c', '    threads_per_process: 100000\n'),
  );
  expectIssue(err, {
    line: 7,
    field: 'networking.endpoint',
    api: 'a',
    message: /"\/\.\.\/x" has a "\." or "\.\." segment, which no request can reach/,
    fix: /without "\." or "\.\." segments/,
  });
  expectIssue(err, { line: 14, field: 'compute.cpu', api: 'b', message: /at most 1024 cores/, fix: /at most 1024/ });
  expectIssue(err, {
    line: 20,
    field: 'predictor.threads_per_process',
    api: 'c',
    message: /must be ≤ 1024 \(got 100000\)/,
    fix: /≤ 1024/,
  });
  assert.equal(err.issues.length, 3);
});
