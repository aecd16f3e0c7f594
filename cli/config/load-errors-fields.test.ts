// Mistakes in what an API's fields are: required ones missing, names, duplicates and endpoint
// collisions, kinds and predictor types Cortex had or never had, unknown fields (with "did you
// mean"), features that cannot work here, env names. Reported with file, line, api, field and fix.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectIssue, failing, realtimeApi } from './fixtures.ts';

test('missing name, kind, predictor type and path', () => {
  const err = failing(
    '- kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n' +
      '- name: b\n  predictor:\n    config: {}\n' +
      '- name: c\n  kind: RealtimeAPI\n',
  );
  expectIssue(err, { line: 1, field: 'name', message: /is required/, fix: /add a name/ });
  expectIssue(err, { line: 5, field: 'kind', api: 'b', message: /is required/, fix: /kind: RealtimeAPI/ });
  expectIssue(err, { line: 6, field: 'predictor.type', api: 'b', message: /is required/, fix: /add predictor\.type/ });
  expectIssue(err, {
    line: 6,
    field: 'predictor.path',
    api: 'b',
    message: /is required/,
    fix: /add predictor\.path \(file holding the predictor class/,
  });
  expectIssue(err, { line: 8, field: 'predictor', api: 'c', message: /is required/ });
  assert.equal(err.issues.length, 5);
});

test('names must be DNS-1123 labels', () => {
  const err = failing(realtimeApi('Iris_Classifier'));
  expectIssue(err, {
    line: 1,
    field: 'name',
    api: 'Iris_Classifier',
    message: /not a valid name/,
    fix: /iris-classifier/,
  });
});

test('duplicate API names are reported at both lines', () => {
  const err = failing(realtimeApi('iris') + realtimeApi('iris'));
  expectIssue(err, { line: 1, field: 'name', api: 'iris', message: /duplicate API name "iris" \(also at line 6\)/ });
  expectIssue(err, { line: 6, field: 'name', api: 'iris', message: /duplicate API name "iris" \(also at line 1\)/ });
  assert.equal(err.issues.length, 2, 'no endpoint collision on top of the duplicate');
});

test('endpoint collisions between APIs', () => {
  const err = failing(
    realtimeApi('a', '  networking:\n    endpoint: /shared\n') +
      realtimeApi('b', '  networking:\n    endpoint: shared/\n') +
      realtimeApi('shared'),
  );
  expectIssue(err, {
    line: 14,
    field: 'networking.endpoint',
    api: 'b',
    message: /endpoint \/shared is already used by api "a" \(line 1\)/,
    fix: /networking\.endpoint/,
  });
  expectIssue(err, { line: 15, field: 'networking.endpoint', api: 'shared', message: /already used by api "a"/ });
});

test('predictor type tensorflow is not supported: convert to ONNX', () => {
  for (const models of ['model_path: s3://bucket/model', 'models:\n      - name: m\n        model_path: s3://b/m']) {
    const err = failing(
      '- name: a\n  kind: RealtimeAPI\n  predictor:\n    type: tensorflow\n    path: model/\n' +
        `    ${models}\n    signature_key: serving_default\n    tensorflow_serving_image: tfs:1\n`,
    );
    expectIssue(err, {
      line: 4,
      field: 'predictor.type',
      api: 'a',
      message:
        /"tensorflow" is not supported \(Cortex ran TensorFlow Serving .*\); supported types: python, typescript, onnx/,
      fix: /tf2onnx\.convert --saved-model .* type: onnx/,
    });
    assert.equal(err.issues.length, 1, 'fields of that type are not reported on top');
  }
  const typo = failing(realtimeApi('a').replace('type: python', 'type: pyton'));
  expectIssue(typo, {
    line: 4,
    field: 'predictor.type',
    api: 'a',
    message: /one of: python, typescript, onnx/,
    fix: /write python/,
  });
});

test('a kind renamed by Cortex, and an unknown kind with the supported ones', () => {
  expectIssue(failing(realtimeApi('a').replace('RealtimeAPI', 'SyncAPI')), {
    line: 2,
    field: 'kind',
    api: 'a',
    message: /renamed RealtimeAPI/,
    fix: /kind: RealtimeAPI/,
  });
  expectIssue(failing(realtimeApi('a').replace('RealtimeAPI', 'RealTimeApi')), {
    line: 2,
    field: 'kind',
    api: 'a',
    message: /unknown kind "RealTimeApi"; did you mean RealtimeAPI\?/,
  });
  expectIssue(failing(realtimeApi('a').replace('RealtimeAPI', 'PredictAPI')), {
    line: 2,
    field: 'kind',
    api: 'a',
    message: /supported kinds: RealtimeAPI, AsyncAPI, TrafficSplitter, BatchAPI, TaskAPI$/,
  });
});

test('unknown fields, with "did you mean"', () => {
  const err = failing(
    realtimeApi(
      'a',
      '  autoscaling:\n    min_replica: 2\n    maxReplicas: 3\n  computer:\n    cpu: 1\n  gpu: 1\n  colour: blue\n',
    ),
  );
  expectIssue(err, {
    line: 7,
    field: 'autoscaling.min_replica',
    api: 'a',
    message: /unknown field "min_replica" under autoscaling; did you mean "min_replicas"\?/,
    fix: /rename it to min_replicas/,
  });
  expectIssue(err, { line: 8, field: 'autoscaling.maxReplicas', api: 'a', message: /did you mean "max_replicas"/ });
  expectIssue(err, { line: 9, field: 'computer', api: 'a', message: /did you mean "compute"/ });
  expectIssue(err, {
    line: 11,
    field: 'gpu',
    api: 'a',
    message: /did you mean compute\.gpu\?/,
    fix: /move it to compute\.gpu/,
  });
  expectIssue(err, {
    line: 12,
    field: 'colour',
    api: 'a',
    message: /^unknown field "colour"$/,
    fix: /fields allowed here: name, kind, predictor/,
  });
  const proto = failing(realtimeApi('a', '  constructor: 1\n').replace('type: python', 'type: constructor'));
  expectIssue(proto, { line: 6, field: 'constructor', api: 'a', message: /^unknown field "constructor"$/ });
  expectIssue(proto, { line: 4, field: 'predictor.type', api: 'a', message: /one of: python, typescript/ });
});

test('Cortex features that cannot work here are errors that name them', () => {
  const err = failing(realtimeApi('a', '  compute:\n    inf: 1\n'));
  expectIssue(err, { line: 7, field: 'compute.inf', api: 'a', message: /Inferentia/ });
});

test('env names and values', () => {
  const err = failing(realtimeApi('a', '    env:\n      GOOD: x\n      "BAD NAME": y\n'));
  expectIssue(err, {
    line: 8,
    field: 'predictor.env.BAD NAME',
    api: 'a',
    message: /not a valid environment variable name/,
  });
  assert.equal(err.issues.length, 1);
});
