// A BatchAPI job through the faults issue 18 names, on a real redis-server with real worker
// processes (runtime/batch/job-main.ts and worker-main.ts, Python handle_batch): a worker killed
// mid-batch, Redis stopped for 10 s, and a batch that fails every try.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openBroker } from '../runtime/queue/open.ts';
import { deadBatches } from '../runtime/batch/record.ts';
import { startBatchRun, type BatchRun } from './helpers/batch-job.ts';
import { redisMissing, startRedis, type RedisServer } from './helpers/redis-server.ts';
import { waitFor } from './helpers/wait.ts';

const items = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Every item in exactly one done line per batch that succeeded, whatever ran twice. */
function itemsDone(run: BatchRun): number[] {
  const byBatch = new Map<string, number[]>();
  for (const line of run.lines('done')) {
    const d = JSON.parse(line) as { batch: string; items: number[] };
    byBatch.set(d.batch, d.items);
  }
  return [...byBatch.values()].flat().sort((a, b) => a - b);
}

describe('BatchAPI jobs through faults', { skip: redisMissing }, () => {
  let redis: RedisServer;
  const runs: BatchRun[] = [];
  before(async () => (redis = await startRedis()));
  after(async () => {
    for (const r of runs) r.cleanup();
    await redis.close();
  });

  test('a worker killed mid-batch: its batch is taken by another try, none lost, none counted twice', async () => {
    const run = startBatchRun({
      queueUrl: redis.url,
      job: { workers: 2, itemList: { items: items(40), batchSize: 4 }, maxReceiveCount: 3, config: { slow: 0.3 } },
      claimIdleMs: 1500,
    });
    runs.push(run);
    // the first batch started: kill the whole worker process (Node and its Python) that holds it
    const [first] = await waitFor(
      'a batch to start',
      async () => run.lines('started').length > 0 && run.lines('started'),
    );
    const [batch, pythonPid] = first.split(' ');
    const workerPid = Number(readFileSync(`/proc/${pythonPid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
    process.kill(-workerPid, 'SIGKILL');
    const status = await run.finished();
    assert.equal(status.status, 'succeeded', run.log());
    assert.deepEqual(status.batch_metrics, { total: 10, enqueued: 0, succeeded: 10, failed: 0 });
    assert.deepEqual(itemsDone(run), items(40));
    const tries = run.lines('started').filter((l) => l.startsWith(`${batch} `));
    assert.ok(tries.length >= 2, `batch ${batch} was tried again after its worker died: ${tries.join(', ')}`);
    assert.equal(run.lines('complete').length, 1, 'on_job_complete ran once');
    assert.match(run.log(), /restarting it/);
  });

  test('Redis stopped for 10 s during a job: the job resumes and succeeds', async () => {
    const run = startBatchRun({
      queueUrl: redis.url,
      job: { workers: 2, itemList: { items: items(60), batchSize: 3 }, maxReceiveCount: 3, config: { slow: 0.2 } },
      claimIdleMs: 3000,
    });
    runs.push(run);
    await waitFor('a few batches to finish', async () => run.lines('done').length >= 3);
    await redis.stop();
    const during = run.lines('done').length;
    await sleep(10_000);
    await redis.start();
    const status = await run.finished(90_000);
    assert.equal(status.status, 'succeeded', run.log());
    assert.ok(during < 20, `the job was still running when Redis stopped (${during} of 20 batches done)`);
    assert.deepEqual(status.batch_metrics, { total: 20, enqueued: 0, succeeded: 20, failed: 0 });
    assert.deepEqual(itemsDone(run), items(60));
    assert.equal(run.lines('complete').length, 1);
  });

  test('a batch that fails every try ends in the dead-letter record and the failed count', async () => {
    const run = startBatchRun({
      queueUrl: redis.url,
      job: { workers: 1, itemList: { items: items(20), batchSize: 5 }, maxReceiveCount: 2, config: { fail: [7] } },
      claimIdleMs: 1500,
    });
    runs.push(run);
    const status = await run.finished();
    assert.equal(status.status, 'completed_with_failures', run.log());
    assert.deepEqual(status.batch_metrics, { total: 4, enqueued: 0, succeeded: 3, failed: 1 });
    assert.match(String(status.message), /1 of 4 batches failed every try/);
    const broker = openBroker(redis.url);
    try {
      const dead = await deadBatches(broker, { api: 'recorder', id: String(status.job_id) });
      assert.equal(dead.length, 1);
      assert.deepEqual(dead[0].items, [5, 6, 7, 8, 9]);
      assert.ok(dead[0].tries >= 2);
    } finally {
      await broker.close();
    }
    const badId = deadId(run);
    const bad = run.lines('started').filter((l) => l.startsWith(`${badId} `));
    assert.equal(bad.length, 2, 'tried max_receive_count times');
    assert.match(run.log(), /item in \[5, 6, 7, 8, 9\] is bad/);
    assert.equal(run.lines('complete').length, 1);
  });
});

function deadId(run: BatchRun): string | undefined {
  const done = new Set(run.lines('done').map((l) => (JSON.parse(l) as { batch: string }).batch));
  return run
    .lines('started')
    .map((l) => l.split(' ')[0])
    .find((b) => !done.has(b));
}
