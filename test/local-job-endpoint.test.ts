// A BatchAPI's and a TaskAPI's endpoint on the local gateway, with Cortex's HTTP interface: POST
// the job JSON (answers the job), GET ?jobID= (its status), DELETE ?jobID= (stops it); real
// deploys, real job runners and workers, plain fetch as any HTTP client would.
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

interface JobStatus {
  job_id: string;
  status: string;
  kind: string;
  batch_metrics?: { total: number; succeeded: number } | null;
}

describe('job APIs’ endpoints on the local gateway', { skip: redisMissing }, () => {
  let local: LocalEnv;
  const tmp = mkdtempSync(path.join(tmpdir(), 'cortex-job-endpoint-'));
  before(async () => (local = await localEnv()));
  after(async () => {
    stopLocalQueue(layout(local.home));
    await local.cleanup();
  });
  const call = async (method: string, endpoint: string, body?: string) => {
    const r = await fetch(`http://127.0.0.1:${local.port}${endpoint}`, { method, body });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const status = async (endpoint: string, id: string) => {
    const r = await call('GET', `${endpoint}?jobID=${id}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.endpoint, endpoint);
    return r.body.job_status as JobStatus;
  };

  test('BatchAPI: POST submits, GET polls to succeeded, bad JSON and unknown jobs get 400 and 404', async () => {
    const deployed = await local.cortex(['deploy', path.join(repoRoot, 'examples/word-count-batch')]);
    assert.equal(deployed.code, 0, deployed.stderr);
    const job = JSON.parse(readFileSync(path.join(repoRoot, 'examples/word-count-batch/job.json'), 'utf8')) as {
      config: Record<string, unknown>;
    };
    job.config.output_dir = tmp;
    const submitted = await call('POST', '/word-count', JSON.stringify(job));
    assert.equal(submitted.status, 200, JSON.stringify(submitted.body));
    assert.equal(submitted.body.api_name, 'word-count');
    const id = String(submitted.body.job_id);
    const done = await waitFor('the job to succeed', async () => {
      const j = await status('/word-count', id);
      return j.status === 'succeeded' && j;
    });
    assert.deepEqual(done.batch_metrics, { total: 3, enqueued: 0, succeeded: 3, failed: 0 });
    // the same job as the CLI sees it
    const cli = await local.cortex(['get', 'word-count', id, '-o', 'json']);
    assert.equal((JSON.parse(cli.stdout) as JobStatus).status, 'succeeded');
    assert.ok(readFileSync(path.join(tmp, id, 'total.json'), 'utf8').includes('"fox": 2'));

    const notJson = await call('POST', '/word-count', '{"workers": 1,');
    assert.equal(notJson.status, 400);
    assert.match(String(notJson.body.error), /the job is not JSON/);
    const bad = await call('POST', '/word-count', '{"workers": 0}');
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.error), /workers: must be a whole number from 1 to 1000 \(got 0\); fix: write e.g./);
    const unknown = await call('GET', '/word-count?jobID=nosuchjob');
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.body.error), /word-count has no job nosuchjob/);
    assert.equal((await call('DELETE', '/word-count?jobID=nosuchjob')).status, 404);
    const noId = await call('GET', '/word-count');
    assert.equal(noId.status, 400);
    assert.match(String(noId.body.error), /GET \/word-count\?jobID=<id>/);
  });

  test('BatchAPI: DELETE ?jobID= stops a running job', async () => {
    const dir = path.join(tmp, 'recorder');
    const out = writeRecorderProject(dir);
    assert.equal((await local.cortex(['deploy', dir])).code, 0);
    const job = { workers: 1, item_list: { items: [1, 2, 3, 4, 5, 6], batch_size: 1 }, config: { out, slow: 2 } };
    const submitted = await call('POST', '/recorder', JSON.stringify(job));
    assert.equal(submitted.status, 200, JSON.stringify(submitted.body));
    const id = String(submitted.body.job_id);
    await waitFor('a batch to start', async () => (await status('/recorder', id)).status === 'running');
    const stop = await call('DELETE', `/recorder?jobID=${id}`);
    assert.deepEqual(stop, { status: 200, body: { message: `stopped job ${id}` } });
    const stopped = await status('/recorder', id);
    assert.equal(stopped.status, 'stopped');
    assert.ok(stopped.batch_metrics!.succeeded < 6);
  });

  test('TaskAPI: POST runs the task, GET /<endpoint>/<id> reads it, DELETE stops a running one', async () => {
    assert.equal((await local.cortex(['deploy', path.join(repoRoot, 'examples/report-task')])).code, 0);
    const output = path.join(tmp, 'report.json');
    const ran = await call('POST', '/report', JSON.stringify({ config: { numbers: [1, 2, 3], output } }));
    assert.equal(ran.status, 200, JSON.stringify(ran.body));
    const done = await waitFor('the task to succeed', async () => {
      const r = await call('GET', `/report/${String(ran.body.job_id)}`);
      const j = (r.body.job_status as JobStatus | undefined)?.status;
      return j === 'succeeded' && j;
    });
    assert.equal(done, 'succeeded');
    assert.deepEqual(JSON.parse(readFileSync(output, 'utf8')), { count: 3, mean: 2, median: 2 });

    const long = await call('POST', '/report', JSON.stringify({ config: { numbers: [1], output, sleep: 60 } }));
    const id = String(long.body.job_id);
    await waitFor('the task to run', async () => (await status('/report', id)).status === 'running');
    assert.deepEqual(await call('DELETE', `/report?jobID=${id}`), {
      status: 200,
      body: { message: `stopped job ${id}` },
    });
    assert.equal((await status('/report', id)).status, 'stopped');
    const bad = await call('POST', '/report', '{"config": [1]}');
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.error), /config: must be an object/);
  });
});
