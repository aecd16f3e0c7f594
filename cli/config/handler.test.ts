// Cortex 0.34-0.35's handler section (the predictor section's new name) and the project's .env file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectIssue, failing, project } from './fixtures.ts';
import { loadProject } from './load.ts';
import { parseDotEnv } from './dotenv.ts';

const handlerApi = (extra = '') =>
  `- name: echo\n  kind: RealtimeAPI\n  handler:\n    type: python\n    path: handler.py\n${extra}`;

test('handler: is read as the predictor section, with the same fields', () => {
  const dir = project({
    'cortex.yaml': handlerApi(
      '    config:\n      greeting: hi\n    processes_per_replica: 2\n    env:\n      A: "1"\n',
    ),
    'handler.py': '',
  });
  const [api] = loadProject(dir).apis;
  assert.equal(api.spec.predictor?.path, 'handler.py');
  assert.deepEqual(api.spec.predictor?.config, { greeting: 'hi' });
  assert.equal(api.spec.predictor?.processesPerReplica, 2);
  assert.deepEqual(api.spec.predictor?.env, { A: '1' });
});

test('problems inside handler: are named and located under handler', () => {
  const err = failing(handlerApi('    proceses_per_replica: 2\n'), { 'handler.py': '' });
  expectIssue(err, { line: 6, field: 'handler.proceses_per_replica', api: 'echo', message: /processes_per_replica/ });
  const missing = failing(handlerApi(), {});
  expectIssue(missing, {
    line: 5,
    field: 'handler.path',
    api: 'echo',
    message: /file not found/,
    fix: /handler\.path/,
  });
  const grpc = failing(handlerApi('    protobuf_path: handler.proto\n'), { 'handler.py': '' });
  expectIssue(grpc, { line: 6, field: 'handler.protobuf_path', api: 'echo', message: /file not found/ });
  const shm = project({ 'cortex.yaml': handlerApi('    shm_size: 1Gi\n'), 'handler.py': '' });
  const { warnings } = loadProject(shm);
  assert.equal(warnings[0].field, 'handler.shm_size');
  assert.match(warnings[0].message, /handler\.shm_size/);
});

test('handler and predictor both set: one clear error naming both', () => {
  const yaml = handlerApi('  predictor:\n    type: python\n    path: handler.py\n');
  const err = failing(yaml, { 'handler.py': '' });
  assert.equal(err.issues.length, 1);
  expectIssue(err, { line: 3, field: 'handler', api: 'echo', message: /both handler and predictor/, fix: /keep one/ });
});

test(".env: its variables are exported to the predictor's environment over the API's env", () => {
  const dir = project({
    'cortex.yaml': handlerApi('    env:\n      A: from-yaml\n      B: kept\n'),
    'handler.py': '',
    '.env': '# secrets\nA=from-dotenv\nexport TOKEN="s3 cr#t"\nPLAIN = value # comment\n',
  });
  const [api] = loadProject(dir).apis;
  assert.deepEqual(api.spec.predictor?.env, { A: 'from-dotenv', B: 'kept', TOKEN: 's3 cr#t', PLAIN: 'value' });
});

test('.env: a line that is not VARIABLE=value is an issue naming .env and its line', () => {
  const dir = project({ 'cortex.yaml': handlerApi(), 'handler.py': '', '.env': 'OK=1\nnot a variable\n1X=2\n' });
  assert.throws(
    () => loadProject(dir),
    (err: Error & { issues?: { file: string; line: number; message: string }[] }) => {
      const issues = err.issues ?? [];
      assert.deepEqual(
        issues.map((i) => [i.file.endsWith('.env'), i.line]),
        [
          [true, 2],
          [true, 3],
        ],
      );
      assert.match(issues[0].message, /not a VARIABLE=value line/);
      return true;
    },
  );
});

test('parseDotEnv: quotes, escapes, export, comments; a later line wins', () => {
  const { vars, problems } = parseDotEnv(
    '\uFEFFA=\'single # kept \\n\'\r\nB="line\\nnext \\"q\\""\nexport C=x\nC=y\n\n  # note\nD=\nE=\'open\n',
  );
  assert.deepEqual(vars, { A: 'single # kept \\n', B: 'line\nnext "q"', C: 'y', D: '' });
  assert.equal(problems.length, 1);
  assert.match(problems[0].message, /unterminated quote in the value of E/);
});

test('neither handler nor predictor: the fix names both', () => {
  const err = failing('- name: a\n  kind: RealtimeAPI\n');
  expectIssue(err, { line: 1, field: 'predictor', api: 'a', message: /is required/, fix: /called it handler/ });
});
