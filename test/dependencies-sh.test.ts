// dependencies.sh (predictor.dependencies.shell) as a replica runs it: before pip, in the project
// folder, its output in the JSON logs; a failure stops `cortex serve` and a local deploy with the
// script and its exit code as the reason.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { copyProject, localEnv, type LocalEnv } from './helpers/local.ts';
import { postJson, repoRoot, serve, serveFailure } from './helpers/serve.ts';

const fixture = path.join(repoRoot, 'test', 'fixtures', 'dependencies-sh');
const failure = 'fail.sh failed with exit code 3; its last output: E: Unable to locate package libcortex-test';

describe('dependencies.sh', { concurrency: false }, () => {
  const projects: string[] = [];
  const project = () => {
    const dir = copyProject(fixture);
    projects.push(dir);
    return dir;
  };
  let local: LocalEnv | undefined;
  after(async () => {
    await local?.cleanup();
    for (const dir of projects) rmSync(dir, { recursive: true, force: true });
  });

  test('runs before the predictor, in the project folder, with its output in the logs', async () => {
    const dir = project();
    const s = await serve(dir, { args: ['--api', 'prepared'] });
    try {
      const response = await postJson(s.url, {});
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { prepared: 'hello from the spec' }, 'predictor.env reached the script');
      const logs = s.logs();
      const fromScript = logs.filter((l) => l.source === 'dependencies.sh');
      assert.deepEqual(
        fromScript.map((l) => [l.message, l.script, l.level, l.api]),
        [
          ['preparing the model', 'dependencies.sh', 'info', 'prepared'],
          ['a line on stderr', 'dependencies.sh', 'info', 'prepared'],
        ],
      );
      const index = (m: RegExp) => logs.findIndex((l) => m.test(String(l.message)));
      assert.ok(index(/^running dependencies\.sh$/) < index(/^preparing the model$/));
      assert.ok(index(/^dependencies\.sh finished in/) < index(/^serving prepared on/), 'before the server starts');
    } finally {
      await s.stop();
    }
  });

  test('a failing script stops the replica with its name and exit code in the termination log', async () => {
    const error = await serveFailure(project(), { args: ['--api', 'failing-setup'] });
    assert.equal(error.code, 1);
    assert.equal(readFileSync(error.terminationLog, 'utf8'), failure);
    const logs = error.out.split('\n').filter((l) => l.startsWith('{'));
    const lines = logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      lines.filter((l) => l.source === 'dependencies.sh').map((l) => l.message),
      ['installing libcortex-test', 'E: Unable to locate package libcortex-test'],
    );
    assert.ok(lines.some((l) => l.level === 'error' && l.message === failure));
    assert.ok(!lines.some((l) => /^serving /.test(String(l.message))), 'nothing served');
  });

  test('a local deploy runs it in each replica and fails with the same reason', { timeout: 120_000 }, async () => {
    local = await localEnv();
    const r = await local.cortex(['deploy', project()]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(failure), r.stderr);
    const answer = await postJson(local.url('/prepared'), {});
    assert.deepEqual(await answer.json(), { prepared: 'hello from the spec' }, 'the other API deployed');
  });
});
