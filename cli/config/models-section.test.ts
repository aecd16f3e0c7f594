// Cortex 0.20-0.25's model fields in cortex.yaml, read as predictor.models (models-section.ts), and
// their mistakes: each reported with file, line, api, the field as written, and a fix.

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { expectIssue, failing, project } from './fixtures.ts';
import { loadProject } from './load.ts';

const api = (type: string, extra: string) =>
  `- name: a\n  kind: RealtimeAPI\n  predictor:\n    type: ${type}\n    path: predictor.py\n${extra}`;
const files = { 'predictor.py': '', 'model.onnx': 'x', 'models/m/1/model.onnx': 'x', 'models/n/model.onnx': 'x' };

function load(yaml: string) {
  const dir = project({ 'cortex.yaml': yaml, ...files });
  return { dir, project: loadProject(dir) };
}

test("every era's model fields become predictor.models", () => {
  const cases: [string, string, unknown][] = [
    ['onnx', '    model_path: model.onnx\n', { path: 'model.onnx' }], // 0.20-0.24
    [
      'onnx', // 0.20's list, with a TensorFlow-only signature_key that is dropped with a warning
      '    models:\n      - name: m\n        model_path: models/m\n        signature_key: serving_default\n',
      { paths: [{ name: 'm', path: 'models/m' }] },
    ],
    [
      'onnx', // 0.21-0.25
      '    models:\n      dir: models\n      cache_size: 1\n      disk_cache_size: 2\n      reload_interval: 2s\n',
      { dir: 'models', cacheSize: 1, diskCacheSize: 2, reloadInterval: '2s' },
    ],
    [
      'python',
      '    multi_model_reloading:\n      paths:\n        - name: n\n          path: models/n\n',
      { paths: [{ name: 'n', path: 'models/n' }] },
    ], // 0.25
  ];
  for (const [type, yaml, want] of cases) {
    const { project: loaded } = load(api(type, yaml));
    assert.deepEqual(loaded.apis[0].spec.predictor?.models, want, yaml);
    assert.equal(loaded.apis[0].spec.predictor?.type, type);
  }
  // Cortex 0.34-0.35: the section is handler, the client model_client; the field is the same
  const handler = load(
    '- name: a\n  kind: RealtimeAPI\n  handler:\n    type: python\n    path: predictor.py\n' +
      '    multi_model_reloading:\n      dir: models\n',
  ).project;
  assert.deepEqual(handler.apis[0].spec.predictor?.models, { dir: 'models' });
  const warned = load(api('onnx', '    model_path: model.onnx\n    signature_key: predict\n')).project.warnings;
  assert.deepEqual(
    warned.map((w) => [w.line, w.field]),
    [[7, 'predictor.signature_key']],
  );
  assert.match(warned[0].message, /signature of a TensorFlow SavedModel/);
});

test('onnx without models, a bad storage URI, a missing path, two ways at once: errors at the field as written', () => {
  expectIssue(failing(api('onnx', ''), files), {
    line: 3,
    field: 'predictor.models',
    api: 'a',
    message: /is required for an onnx predictor/,
    fix: /add predictor\.models\.path/,
  });
  expectIssue(failing(api('onnx', '    model_path: s3://Bad_Bucket/model.onnx\n'), files), {
    line: 6,
    field: 'predictor.model_path',
    api: 'a',
    message: /s3:\/\/Bad_Bucket\/model\.onnx: "Bad_Bucket" is not a bucket name/,
    fix: /write s3:\/\/bucket\/prefix/,
  });
  expectIssue(failing(api('onnx', '    model_path: azure://c/model.onnx\n'), files), {
    line: 6,
    field: 'predictor.model_path',
    api: 'a',
    message: /the azure:\/\/ scheme is not supported/,
    fix: /use s3:\/\/bucket\/prefix, gs:\/\/bucket\/prefix/,
  });
  const dir = project({ 'cortex.yaml': '', ...files });
  expectIssue(failing(api('onnx', '    models:\n      path: nothing-here.onnx\n'), files), {
    line: 7,
    field: 'predictor.models.path',
    api: 'a',
    message: /not found: .*nothing-here\.onnx/,
  });
  expectIssue(failing(api('onnx', `    models:\n      path: ../${path.basename(dir)}/model.onnx\n`), files), {
    line: 7,
    field: 'predictor.models.path',
    api: 'a',
    message: /is outside the project folder/,
    fix: /move the model into the project folder/,
  });
  expectIssue(failing(api('python', '    model_path: model.onnx\n    models:\n      dir: models\n'), files), {
    line: 6,
    field: 'predictor.model_path',
    api: 'a',
    message: /both model_path and models are set/,
    fix: /keep one of them/,
  });
});

test('cache_size rules, models on a typescript predictor, duplicate names', () => {
  expectIssue(failing(api('onnx', '    models:\n      path: model.onnx\n      cache_size: 2\n'), files), {
    line: 8,
    field: 'predictor.models.cache_size',
    api: 'a',
    message: /caches several models, but predictor\.models\.path is one/,
    fix: /predictor\.models\.paths or predictor\.models\.dir/,
  });
  expectIssue(failing(api('onnx', '    models:\n      dir: models\n      disk_cache_size: 2\n'), files), {
    line: 8,
    field: 'predictor.models.disk_cache_size',
    api: 'a',
    message: /needs predictor\.models\.cache_size/,
  });
  expectIssue(
    failing(api('onnx', '    models:\n      dir: models\n      cache_size: 3\n      disk_cache_size: 2\n'), files),
    {
      line: 9,
      field: 'predictor.models.disk_cache_size',
      api: 'a',
      message: /must be at least predictor\.models\.cache_size \(3\)/,
    },
  );
  expectIssue(failing(api('onnx', '    models:\n      dir: models\n      reload_interval: 0s\n'), files), {
    line: 8,
    field: 'predictor.models.reload_interval',
    api: 'a',
    message: /must be at least 100ms \(got 0s\)/,
  });
  const both = failing(api('onnx', '    models:\n      dir: models\n      path: model.onnx\n'), files);
  expectIssue(both, {
    line: 7,
    field: 'predictor.models',
    api: 'a',
    message: /sets predictor\.models\.path and predictor\.models\.dir: only one may be set/,
  });
  const ts = failing(
    '- name: a\n  kind: RealtimeAPI\n  predictor:\n    type: typescript\n    path: p.ts\n' +
      '    models:\n      dir: models\n',
    { ...files, 'p.ts': '' },
  );
  expectIssue(ts, { line: 7, field: 'predictor.models', api: 'a', message: /a typescript predictor loads its own/ });
  const twice = failing(
    api(
      'onnx',
      '    models:\n      paths:\n        - {name: m, path: model.onnx}\n        - {name: m, path: models/n}\n',
    ),
    files,
  );
  expectIssue(twice, { line: 9, field: 'predictor.models.paths.1.name', api: 'a', message: /"m" is used twice/ });
});
