// A TaskAPI in the local environment, through the cortex CLI: deploy, submit, get and logs of a
// task that succeeds, one that raises, and one stopped with cortex delete API JOB_ID (`cortex logs
// API JOB_ID -f` following them ends with the job).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { localEnv, type LocalEnv } from './helpers/local.ts';
import { repoRoot } from './helpers/serve.ts';
import { waitFor } from './helpers/wait.ts';

interface JobView {
  status: string;
  message?: string;
  kind: string;
}

describe('TaskAPI in the local environment', () => {
  let local: LocalEnv;
  const tmp = mkdtempSync(path.join(tmpdir(), 'cortex-local-task-'));
  before(async () => (local = await localEnv()));
  after(() => local.cleanup());

  const submit = async (config: Record<string, unknown>) => {
    const r = await local.cortex(['submit', 'report', '-'], { input: JSON.stringify({ config }) });
    assert.equal(r.code, 0, r.stderr);
    return /submitted job (\w+)/.exec(r.stdout)![1];
  };
  const get = async (id: string) => {
    const r = await local.cortex(['get', 'report', id, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as JobView;
  };
  const ended = (id: string) =>
    waitFor(`task ${id} to end`, async () => {
      const j = await get(id);
      return !['pending', 'running'].includes(j.status) && j;
    });

  test('Task()(config) runs once with the job config over the API config; a raise fails it, logged', async () => {
    const deployed = await local.cortex(['deploy', path.join(repoRoot, 'examples/report-task')]);
    assert.equal(deployed.code, 0, deployed.stderr);
    assert.match(deployed.stdout, /report \(TaskAPI\) is deployed/);
    const output = path.join(tmp, 'report.json');
    const id = await submit({ numbers: [3, 1, 4, 1, 5, 9, 2, 6], output });
    // followed from the submit on: logs -f ends by itself with the task
    const followed = await local.cortex(['logs', 'report', id, '-f'], { timeoutMs: 60_000 });
    assert.equal(followed.code, 0, followed.stderr);
    assert.match(followed.stdout, new RegExp(`wrote ${output}`));
    assert.equal(followed.stderr.trim(), `job ${id} ended: succeeded`);
    const done = await ended(id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal(done.kind, 'TaskAPI');
    assert.deepEqual(JSON.parse(readFileSync(output, 'utf8')), { count: 8, mean: 3.875, median: 3.5 });
    const logs = await local.cortex(['logs', 'report', id]);
    assert.match(logs.stdout, new RegExp(`wrote ${output}`));

    const bad = await submit({ numbers: [], output });
    const failed = await ended(bad);
    assert.equal(failed.status, 'failed');
    assert.match(String(failed.message), /the task exited with code 1; see cortex logs report/);
    const badLogs = await local.cortex(['logs', 'report', bad]);
    assert.match(badLogs.stdout, /ValueError: config.numbers is empty/);
  });

  test('cortex delete API JOB_ID stops a running task; a bad submission names the field', async () => {
    const id = await submit({ numbers: [1], output: path.join(tmp, 'never.json'), sleep: 60 });
    await waitFor('the task to run', async () => (await get(id)).status === 'running');
    const following = local.cortex(['logs', 'report', id, '-f'], { timeoutMs: 60_000 });
    const stop = await local.cortex(['delete', 'report', id]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, new RegExp(`stopped job ${id}`));
    const followed = await following;
    assert.equal(followed.code, 0, followed.stderr);
    assert.equal(followed.stderr.trim().split('\n').at(-1), `job ${id} ended: stopped`, followed.stderr);
    assert.equal((await get(id)).status, 'stopped');
    const bad = await local.cortex(['submit', 'report', '-'], { input: '{"config": [1]}' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /config: must be an object/);
  });
});
