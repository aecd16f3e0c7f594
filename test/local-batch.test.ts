// A BatchAPI in the local environment, through the cortex CLI as a user runs it: deploy, submit,
// get, logs, delete (stop) and a job's timeout; on the environment's own redis-server (started on
// the first submit when one is installed) and on the embedded store (CORTEX_QUEUE_URL=memory:).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stopLocalQueue } from '../cli/local/job-queue.ts';
import { layout } from '../cli/local/paths.ts';
import { writeRecorderProject } from './helpers/batch-job.ts';
import { localEnv, type LocalEnv } from './helpers/local.ts';
import { redisMissing } from './helpers/redis-server.ts';
import { repoRoot } from './helpers/serve.ts';
import { waitFor } from './helpers/wait.ts';

interface JobView {
  status: string;
  message?: string;
  batch_metrics: { total: number; succeeded: number; failed: number; enqueued: number } | null;
}

describe('BatchAPI in the local environment', { skip: redisMissing }, () => {
  let local: LocalEnv;
  const tmp = mkdtempSync(path.join(tmpdir(), 'cortex-local-batch-'));
  before(async () => (local = await localEnv()));
  after(async () => {
    stopLocalQueue(layout(local.home));
    await local.cleanup();
  });

  const submit = async (api: string, job: unknown, env: Record<string, string> = {}) => {
    const r = await local.cortex(['submit', api, '-'], { input: JSON.stringify(job), env });
    assert.equal(r.code, 0, r.stderr);
    return /submitted job (\w+)/.exec(r.stdout)![1];
  };
  const get = async (api: string, id: string) => {
    const r = await local.cortex(['get', api, id, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as JobView;
  };
  const ended = (api: string, id: string) =>
    waitFor(`job ${id} to end`, async () => {
      const j = await get(api, id);
      return !['pending', 'enqueuing', 'running'].includes(j.status) && j;
    });

  test('the example: deploy, submit, get and logs; on_job_complete merges the batches once', async () => {
    const deployed = await local.cortex(['deploy', path.join(repoRoot, 'examples/word-count-batch')]);
    assert.equal(deployed.code, 0, deployed.stderr);
    assert.match(deployed.stdout, /word-count \(BatchAPI\) is deployed; submit a job with: cortex submit word-count/);
    const job = JSON.parse(readFileSync(path.join(repoRoot, 'examples/word-count-batch/job.json'), 'utf8')) as {
      config: Record<string, unknown>;
    };
    job.config.output_dir = tmp;
    const id = await submit('word-count', job);
    const done = await ended('word-count', id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.deepEqual(done.batch_metrics, { total: 3, enqueued: 0, succeeded: 3, failed: 0 });
    const total = JSON.parse(readFileSync(path.join(tmp, id, 'total.json'), 'utf8')) as Record<string, number>;
    assert.deepEqual(total, {
      brown: 1,
      dog: 2,
      end: 1,
      fox: 2,
      jumps: 1,
      lazy: 1,
      over: 1,
      quick: 1,
      runs: 1,
      sleeps: 1,
      the: 4,
    });
    const logs = await local.cortex(['logs', 'word-count', id]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /on_job_complete ran/);
    assert.match(logs.stdout, /job \w+ succeeded/);
    const list = await local.cortex(['get', 'word-count']);
    assert.match(list.stdout, new RegExp(`${id}\\s+succeeded`));
    const redisPort = readFileSync(path.join(local.home, 'redis', 'port'), 'utf8');
    assert.ok(Number(redisPort) > 0, 'the job ran on the environment’s own redis-server');
  });

  test('a job with more items than an environment variable holds (128 KiB) runs: 50,000 items', async () => {
    const dir = path.join(tmp, 'many');
    const out = writeRecorderProject(dir);
    assert.equal((await local.cortex(['deploy', dir])).code, 0);
    const items = Array.from({ length: 50_000 }, (_, i) => `item-${i}`);
    const id = await submit('recorder', { workers: 2, item_list: { items, batch_size: 1000 }, config: { out } });
    const done = await ended('recorder', id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.deepEqual(done.batch_metrics, { total: 50, enqueued: 0, succeeded: 50, failed: 0 });
  });

  test('on the embedded store: cortex delete API JOB_ID stops a job; a job past its timeout is timed_out', async () => {
    const dir = path.join(tmp, 'recorder');
    const out = writeRecorderProject(dir);
    assert.equal((await local.cortex(['deploy', dir])).code, 0);
    const memory = { CORTEX_QUEUE_URL: 'memory:' };
    const slow = { workers: 1, item_list: { items: [1, 2, 3, 4, 5, 6, 7, 8], batch_size: 1 } };
    const id = await submit('recorder', { ...slow, config: { out, slow: 2 } }, memory);
    await waitFor('a batch to start', async () => readFileSync(path.join(out, 'started'), 'utf8').length > 0);
    const stop = await local.cortex(['delete', 'recorder', id]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, new RegExp(`stopped job ${id}`));
    const stopped = await get('recorder', id);
    assert.equal(stopped.status, 'stopped');
    assert.ok(stopped.batch_metrics!.succeeded < 8);

    const late = await submit('recorder', { ...slow, timeout: 3, config: { out, slow: 2 } }, memory);
    const timedOut = await ended('recorder', late);
    assert.equal(timedOut.status, 'timed_out');
    assert.match(String(timedOut.message), /timeout of 3 s/);

    const bad = await local.cortex(['submit', 'recorder', '-'], { input: '{"workers": 0}' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /workers: must be a whole number from 1 to 1000 \(got 0\); fix: write e.g. "workers": 1/);
  });
});
