// predictor.protobuf_path (gRPC APIs, docs/grpc.md): the .proto file is read before a deploy, and the
// fields that cannot go with it are refused, each with the file, API, field and fix.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectIssue, failing, project } from './fixtures.ts';
import { loadProject } from './load.ts';

const api = (extra = '', section = 'handler') =>
  `- name: echo\n  kind: RealtimeAPI\n  ${section}:\n    type: python\n    path: handler.py\n` +
  `    protobuf_path: echo.proto\n${extra}`;
const proto = (body: string) => `syntax = "proto3";\npackage echo;\nmessage In { string a = 1; }\n${body}\n`;
const UNARY = proto('service Echo { rpc Say (In) returns (In); rpc Count (In) returns (stream In); }');

test('protobuf_path: a .proto with one service of unary and server-streaming RPCs loads', () => {
  const dir = project({ 'cortex.yaml': api(), 'handler.py': '', 'echo.proto': UNARY });
  const [loaded] = loadProject(dir).apis;
  assert.equal(loaded.spec.predictor?.protobufPath, 'echo.proto');
  assert.equal(loaded.spec.networking.endpoint, '/echo.Echo', "Cortex's endpoint: /<package>.<Service>");
  const other = api('  networking:\n    endpoint: /echo\n');
  expectIssue(failing(other, { 'handler.py': '', 'echo.proto': UNARY }), {
    line: 8,
    field: 'networking.endpoint',
    api: 'echo',
    message: /must be \/echo\.Echo for a gRPC API/,
    fix: /remove networking\.endpoint/,
  });
});

test('protobuf_path: a missing file, a syntax error, no service, two services are refused', () => {
  expectIssue(failing(api(), { 'handler.py': '' }), {
    line: 6,
    field: 'handler.protobuf_path',
    api: 'echo',
    message: /file not found: .*echo\.proto/,
    fix: /create the \.proto file/,
  });
  expectIssue(failing(api(), { 'handler.py': '', 'echo.proto': 'syntax = "proto3";\nmessage {' }), {
    line: 6,
    field: 'handler.protobuf_path',
    api: 'echo',
    message: /echo\.proto cannot be read: .*line 2/,
    fix: /correct the \.proto/,
  });
  expectIssue(failing(api(), { 'handler.py': '', 'echo.proto': proto('') }), {
    line: 6,
    field: 'handler.protobuf_path',
    api: 'echo',
    message: /defines no service/,
    fix: /define one service/,
  });
  const two = proto('service A { rpc X (In) returns (In); }\nservice B { rpc Y (In) returns (In); }');
  expectIssue(failing(api(), { 'handler.py': '', 'echo.proto': two }), {
    line: 6,
    field: 'handler.protobuf_path',
    api: 'echo',
    message: /defines 2 services \(A, B\); a gRPC API serves exactly one/,
    fix: /keep one service/,
  });
});

test('protobuf_path: client-streaming and bidirectional RPCs are refused, naming the RPC', () => {
  for (const [rpc, kind] of [
    ['rpc Up (stream In) returns (In);', 'client streaming'],
    ['rpc Chat (stream In) returns (stream In);', 'bidirectional streaming'],
  ]) {
    const err = failing(api('', 'predictor'), { 'handler.py': '', 'echo.proto': proto(`service Echo { ${rpc} }`) });
    expectIssue(err, {
      line: 6,
      field: 'predictor.protobuf_path',
      api: 'echo',
      message: new RegExp(`is ${kind} \\(stream in its request\\); only unary and server-streaming`),
      fix: /make the request one message/,
    });
  }
});

test('protobuf_path with server_side_batching, min_replicas 0 or a typescript predictor: refused', () => {
  const files = { 'handler.py': '', 'handler.ts': '', 'echo.proto': UNARY };
  const batching = api('    server_side_batching:\n      max_batch_size: 4\n      batch_interval: 10ms\n');
  expectIssue(failing(batching, files), {
    line: 8,
    field: 'handler.server_side_batching',
    api: 'echo',
    message: /cannot be used with handler\.protobuf_path/,
    fix: /remove handler\.server_side_batching/,
  });
  expectIssue(failing(api('  autoscaling:\n    min_replicas: 0\n'), files), {
    line: 8,
    field: 'autoscaling.min_replicas',
    api: 'echo',
    message: /must be 1 or more for a gRPC API/,
    fix: /set autoscaling\.min_replicas to 1/,
  });
  const ts = api().replace('type: python', 'type: typescript').replace('handler.py', 'handler.ts');
  expectIssue(failing(ts, files), {
    line: 6,
    field: 'handler.protobuf_path',
    api: 'echo',
    message: /served by python predictors only/,
    fix: /serve the API over HTTP/,
  });
});
