// kind: AsyncAPI in cortex.yaml (issue 18, docs/async.md): the sections of a RealtimeAPI plus
// async, defaulted; misuses refused with the file, API, field and fix.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectIssue, failing, project } from './fixtures.ts';
import { loadProject } from './load.ts';

const api = (kind: string, extra = '') =>
  `- name: slow\n  kind: ${kind}\n  handler:\n    type: python\n    path: handler.py\n${extra}`;

test('kind AsyncAPI loads with the async section defaulted, and is reported as an AsyncAPI', () => {
  const [loaded] = loadProject(project({ 'cortex.yaml': api('AsyncAPI'), 'handler.py': '' })).apis;
  assert.equal(loaded.kind, 'AsyncAPI');
  assert.deepEqual(loaded.spec.async, { resultTtl: '24h', redeliverAfter: '30s', maxDeliveries: 3 });
  assert.equal(loaded.spec.networking.endpoint, '/slow');
  const [realtime] = loadProject(project({ 'cortex.yaml': api('RealtimeAPI'), 'handler.py': '' })).apis;
  assert.equal(realtime.kind, 'RealtimeAPI');
  assert.equal(realtime.spec.async, undefined);
});

test('async settings are read in snake_case and checked', () => {
  const written = api('AsyncAPI', '  async:\n    result_ttl: 1h\n    max_deliveries: 5\n');
  const [loaded] = loadProject(project({ 'cortex.yaml': written, 'handler.py': '' })).apis;
  assert.deepEqual(loaded.spec.async, { resultTtl: '1h', redeliverAfter: '30s', maxDeliveries: 5 });
  expectIssue(failing(api('AsyncAPI', '  async:\n    result_ttl: soon\n'), { 'handler.py': '' }), {
    line: 7,
    field: 'async.result_ttl',
    api: 'slow',
    message: /must be a duration/,
  });
  expectIssue(failing(api('AsyncAPI', '  async:\n    max_deliveries: 0\n'), { 'handler.py': '' }), {
    line: 7,
    field: 'async.max_deliveries',
    api: 'slow',
    message: /must be ≥ 1/,
  });
});

test('an async section under kind RealtimeAPI is refused: write kind AsyncAPI', () => {
  expectIssue(failing(api('RealtimeAPI', '  async:\n    result_ttl: 1h\n'), { 'handler.py': '' }), {
    line: 6,
    field: 'async',
    api: 'slow',
    message: /is the section of an AsyncAPI/,
    fix: /write kind: AsyncAPI/,
  });
});

test('an AsyncAPI of a gRPC predictor is refused', () => {
  const proto =
    'syntax = "proto3";\npackage e;\nmessage In { string a = 1; }\nservice E { rpc Say (In) returns (In); }\n';
  const written = api('AsyncAPI', '    protobuf_path: e.proto\n');
  expectIssue(failing(written, { 'handler.py': '', 'e.proto': proto }), {
    line: 6,
    field: 'handler.protobuf_path',
    api: 'slow',
    message: /cannot be used in an AsyncAPI/,
  });
});
