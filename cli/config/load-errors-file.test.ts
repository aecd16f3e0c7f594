// Mistakes in a cortex.yaml as a whole: not a list, invalid YAML, no file; and how a failed load
// reports: every issue of every API at once, with its warnings. (The other kinds of mistake are in
// load-errors-*.test.ts beside it; each is reported with file, line, api, field and fix.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { failing, project, realtimeApi } from './fixtures.ts';
import { loadProject } from './load.ts';
import { ConfigError, explainConfigError } from './errors.ts';

test('the file is not a list of APIs', () => {
  for (const [yaml, message] of [
    ['just a string\n', /must be a list of APIs/],
    ['', /no APIs defined/],
    ['[]\n', /no APIs defined/],
    ['- 5\n', /an API must be a mapping/],
  ] as const) {
    const err = failing(yaml);
    assert.equal(err.issues.length, 1, yaml);
    assert.match(err.issues[0].message, message);
  }
});

test('invalid YAML is reported where it is', () => {
  const err = failing('- name: a\n  kind: RealtimeAPI\n   predictor: x\n');
  assert.equal(err.issues.length, 1, err.message);
  assert.deepEqual([err.issues[0].line, err.issues[0].column], [3, 4], 'the over-indented key, not the line above');
  assert.match(err.issues[0].message, /^invalid YAML: this key is indented deeper than the key above it/);
  const nested = failing('- name: a\n  kind: RealtimeAPI\n  compute:\n    cpu: 1\n      mem: 1G\n');
  assert.deepEqual(
    nested.issues.map((i) => [i.line, i.column]),
    [[5, 7]],
  );
  const unaligned = failing('- name: a\n  kind: RealtimeAPI\n  compute:\n     cpu: 1\n    mem: 1G\n');
  assert.equal(unaligned.issues[0].line, 5, 'other indentation errors keep the parser position');
  assert.match(unaligned.issues[0].message, /^invalid YAML/);
  const dup = failing('- name: a\n  kind: RealtimeAPI\n  name: b\n');
  assert.equal(dup.issues[0].line, 3);
  assert.match(dup.issues[0].message, /unique/);
});

test('a missing config file', () => {
  const dir = project({ 'README.md': '' });
  assert.throws(
    () => loadProject(dir),
    (err: unknown) =>
      err instanceof ConfigError &&
      /no cortex\.yaml or cortex\.yml in this folder/.test(err.message) &&
      err.issues[0].file === dir,
  );
  assert.throws(() => loadProject(path.join(dir, 'nope.yaml')), /no such file/);
});

test('every issue of every API is collected before failing', () => {
  const err = failing(
    realtimeApi('a', '  compute:\n    cpu: lots\n  autoscaling:\n    min_replicas: 3\n    max_replicas: 2\n') +
      realtimeApi('B') +
      '- name: c\n  kind: PredictAPI\n' +
      realtimeApi(
        'd',
        '  update_strategy:\n    max_surge: 0\n    max_unavailable: 0\n  monitoring: {model_type: regression}\n',
      ),
  );
  assert.deepEqual(
    err.issues.map((i) => [i.line, i.api, i.field]),
    [
      [7, 'a', 'compute.cpu'],
      [9, 'a', 'autoscaling.min_replicas'],
      [11, 'B', 'name'],
      [16, 'c', 'predictor'],
      [17, 'c', 'kind'],
      [25, 'd', 'update_strategy.max_unavailable'],
    ],
  );
  assert.match(err.issues[5].message, /must not be 0 when max_surge is 0/);
  assert.deepEqual(
    err.warnings.map((w) => [w.line, w.field]),
    [[26, 'monitoring']],
  );
  assert.equal(err.message.split('\n').length, 6);
});

test('a failed load keeps its warnings with file, line and API for the CLI to print (explainConfigError)', () => {
  const dir = project({
    'cortex.yaml':
      '- name: a\n  kind: RealtimeAPI\n  monitoring: {model_type: regression}\n  predictor:\n    type: python\n' +
      '    path: predictor.py\n  compute:\n    cpu: -1\n',
    'predictor.py': 'class PythonPredictor:\n    pass\n',
  });
  let error: unknown;
  try {
    loadProject(dir);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ConfigError);
  const lines = explainConfigError(error).split('\n');
  assert.match(lines[0], /cortex\.yaml:8:\d+: api "a": compute\.cpu/);
  assert.match(lines[1], /^warning: .*cortex\.yaml:3:3: api "a": monitoring: ignored: monitoring was removed/);
});
