// kind: BatchAPI and kind: TaskAPI in cortex.yaml (docs/batch.md, docs/task.md).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectIssue, failing, project } from './fixtures.ts';
import { loadProject } from './load.ts';

test('a BatchAPI is loaded as a job API with its predictor, compute and endpoint', () => {
  const dir = project({
    'cortex.yaml':
      '- name: sum\n  kind: BatchAPI\n  handler:\n    path: handler.py\n    config: {scale: 2}\n' +
      '  compute:\n    cpu: 1\n' +
      '- name: web\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: handler.py\n',
    'handler.py': '',
  });
  const p = loadProject(dir);
  assert.deepEqual(
    p.apis.map((a) => a.name),
    ['web'],
  );
  assert.equal(p.jobApis.length, 1);
  const [job] = p.jobApis;
  assert.equal(job.kind, 'BatchAPI');
  assert.equal(job.spec.predictor.type, 'python');
  assert.deepEqual(job.spec.predictor.config, { scale: 2 });
  assert.equal(job.spec.compute.cpu, 1);
  assert.deepEqual(job.spec.networking, { endpoint: '/sum' });
});

test("a TaskAPI's definition section (Cortex 0.28-0.35) is its predictor", () => {
  const dir = project({
    'cortex.yaml': '- name: trainer\n  kind: TaskAPI\n  definition:\n    path: task.py\n',
    'task.py': '',
  });
  const [job] = loadProject(dir).jobApis;
  assert.equal(job.kind, 'TaskAPI');
  assert.equal(job.spec.predictor.path, 'task.py');
});

test('what only a RealtimeAPI has is refused in a BatchAPI, naming the field and the fix', () => {
  const err = failing(
    '- name: sum\n  kind: BatchAPI\n  predictor:\n    type: typescript\n    path: predictor.py\n' +
      '  autoscaling:\n    min_replicas: 2\n  networking:\n    auth: api_key\n',
  );
  expectIssue(err, { line: 6, field: 'autoscaling', api: 'sum', message: /not a field of a BatchAPI/ });
  expectIssue(err, { line: 9, field: 'networking.auth', api: 'sum', message: /networking/ });
  expectIssue(err, { line: 4, field: 'predictor.type', api: 'sum', message: /Python class/, fix: /python/ });
});

test("a job API's predictor may not copy payloads (payload_logging is a RealtimeAPI's): refused, not ignored", () => {
  const err = failing(
    '- name: sum\n  kind: BatchAPI\n  handler:\n    path: handler.py\n    payload_logging:\n      url: http://sink/\n',
  );
  expectIssue(err, { line: 6, field: 'handler.payload_logging', api: 'sum', message: /RealtimeAPI/, fix: /remove/ });
});
