// BatchAPI jobs whose items come from a bucket (Cortex's file_path_lister and delimited_files),
// through the cortex CLI in the local environment, against moto's S3 server and fake-gcs-server on
// loopback (the storage tests' servers): the job's runner lists the objects, filters them with includes/excludes,
// reads newline-delimited JSON line by line and enqueues the batches; the recording handler shows
// what each batch held. Credentials and endpoint come from the environment, as for models.
// POST <endpoint>?dryRun=true through the gateway lists the same objects with the local
// environment's (the gateway's) environment, and creates no job.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stopLocalQueue } from '../cli/local/job-queue.ts';
import { layout } from '../cli/local/paths.ts';
import { BATCH_GROUP, batchStream } from '../runtime/batch/job-keys.ts';
import { openBroker } from '../runtime/queue/open.ts';
import { writeRecorderProject } from './helpers/batch-job.ts';
import { localEnv, type LocalEnv } from './helpers/local.ts';
import { redisMissing } from './helpers/redis-server.ts';
import { S3_CREDENTIALS, putS3, startFakeGcs, startMoto } from './helpers/storage-servers.ts';
import { waitFor } from './helpers/wait.ts';

interface JobView {
  status: string;
  message?: string;
  batch_metrics: { total: number; succeeded: number; failed: number; enqueued: number } | null;
}

describe(
  'BatchAPI jobs over files in a bucket (local environment, moto S3, fake-gcs-server)',
  { skip: redisMissing },
  () => {
    let local: LocalEnv;
    let moto: Awaited<ReturnType<typeof startMoto>>;
    let gcs: Awaited<ReturnType<typeof startFakeGcs>>;
    let out: string;
    let s3env: Record<string, string>;
    const tmp = mkdtempSync(path.join(tmpdir(), 'cortex-batch-files-'));

    before(async () => {
      [local, moto, gcs] = await Promise.all([localEnv(), startMoto(), startFakeGcs()]);
      s3env = { ...S3_CREDENTIALS, AWS_ENDPOINT_URL: moto.url, STORAGE_EMULATOR_HOST: gcs.url };
      out = writeRecorderProject(path.join(tmp, 'recorder'));
      // the deploy starts the local environment: its gateway (dry runs) lists with this environment
      const deployed = await local.cortex(['deploy', path.join(tmp, 'recorder')], { env: s3env });
      assert.equal(deployed.code, 0, deployed.stderr);
    });
    after(async () => {
      stopLocalQueue(layout(local.home));
      await local.cleanup();
      await moto.stop();
      await gcs.stop();
    });

    const submit = async (job: Record<string, unknown>) => {
      const input = JSON.stringify({ ...job, config: { out } });
      const r = await local.cortex(['submit', 'recorder', '-'], { input, env: s3env });
      assert.equal(r.code, 0, r.stderr);
      return /submitted job (\w+)/.exec(r.stdout)![1];
    };
    const ended = (id: string) =>
      waitFor(`job ${id} to end`, async () => {
        const r = await local.cortex(['get', 'recorder', id, '-o', 'json']);
        assert.equal(r.code, 0, r.stderr);
        const j = JSON.parse(r.stdout) as JobView;
        return !['pending', 'enqueuing', 'running'].includes(j.status) && j;
      });
    /** The batches the handler finished for job `id`, each the list of its items, ordered by first item. */
    const batches = (id: string) =>
      readFileSync(path.join(out, 'done'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { items: unknown[]; job: string })
        .filter((d) => d.job === id)
        .map((d) => d.items)
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

    test('file_path_lister: the handler gets the URLs of the objects includes keeps and excludes leaves', async () => {
      await putS3(moto.s3, 'images', {
        'images/img_1.png': 'p',
        'images/img_2.jpg': 'j',
        'images/img_3.jpg': 'j',
        'images/img_4.gif': 'g',
        'images/deep/img_5.jpg': 'j',
        'other/x.jpg': 'j',
        'other/y.png': 'p',
      });
      const id = await submit({
        workers: 1,
        file_path_lister: {
          s3_paths: ['s3://images/images/', 's3://images/other/'],
          includes: ['**.jpg'],
          excludes: ['**_3.jpg'],
          batch_size: 2,
        },
      });
      const done = await ended(id);
      assert.equal(done.status, 'succeeded', JSON.stringify(done));
      assert.deepEqual(done.batch_metrics, { total: 2, enqueued: 0, succeeded: 2, failed: 0 });
      // listing order within a path (S3 lists keys in order), batched across the two paths
      assert.deepEqual(batches(id), [
        ['s3://images/images/deep/img_5.jpg', 's3://images/images/img_2.jpg'],
        ['s3://images/other/x.jpg'],
      ]);

      // a path is a key prefix, as in Cortex: images/img is every key that starts with it
      const prefixed = await submit({
        workers: 1,
        file_path_lister: { s3_paths: ['s3://images/images/img'], excludes: ['**.gif'], batch_size: 10 },
      });
      assert.equal((await ended(prefixed)).status, 'succeeded');
      assert.deepEqual(batches(prefixed), [
        ['s3://images/images/img_1.png', 's3://images/images/img_2.jpg', 's3://images/images/img_3.jpg'],
      ]);
    });

    test('delimited_files: a line an item, batches across two files, blank lines and other files skipped', async () => {
      const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
      const big = '12345678901234567891'; // more digits than a JS number keeps
      await putS3(moto.s3, 'data', {
        // \r\n line ends, a blank line, no newline at the end
        'jobs/part-1.jsonl': `${lines(1, 3).join('\r\n')}\r\n\r\n${lines(4, 5).join('\r\n')}`,
        'jobs/part-2.jsonl': `${lines(6, 8).join('\n')}\n${big}\n`,
        'jobs/skip-me.jsonl': `${lines(100, 101).join('\n')}\n`,
        'jobs/notes.txt': 'not json at all\n',
      });
      const id = await submit({
        workers: 2,
        delimited_files: {
          s3_paths: ['s3://data/jobs/'],
          includes: ['**.jsonl'],
          excludes: ['**/skip-*'],
          batch_size: 4,
        },
      });
      const done = await ended(id);
      assert.equal(done.status, 'succeeded', JSON.stringify(done));
      assert.deepEqual(done.batch_metrics, { total: 3, enqueued: 0, succeeded: 3, failed: 0 });
      // the second batch holds the last line of part-1 and the first three of part-2
      assert.deepEqual(batches(id), [[1, 2, 3, 4], [JSON.parse(big)], [5, 6, 7, 8]]);
      // the line reaches the handler as written, not through a JS number
      assert.match(readFileSync(path.join(out, 'done'), 'utf8'), new RegExp(`"items": \\[${big}\\]`));
      const logs = await local.cortex(['logs', 'recorder', id]);
      assert.match(logs.stdout, /enqueued 9 items from s3:\/\/data\/jobs\/ in 3 batches/);
    });

    test('gs:// through the same paths (fake-gcs-server, STORAGE_EMULATOR_HOST)', async () => {
      await gcs.put('gdata', { 'rows/1.jsonl': '"a"\n"b"\n"c"\n', 'rows/2.jsonl': '"d"\n', 'rows/x.csv': 'a,b\n' });
      const id = await submit({
        workers: 1,
        delimited_files: { s3_paths: ['gs://gdata/rows/'], includes: ['gs://gdata/rows/*.jsonl'], batch_size: 2 },
      });
      assert.equal((await ended(id)).status, 'succeeded');
      assert.deepEqual(batches(id), [
        ['a', 'b'],
        ['c', 'd'],
      ]);
      const listed = await submit({
        workers: 1,
        file_path_lister: { s3_paths: ['gs://gdata/rows/'], excludes: ['**.csv'], batch_size: 5 },
      });
      assert.equal((await ended(listed)).status, 'succeeded');
      assert.deepEqual(batches(listed), [['gs://gdata/rows/1.jsonl', 'gs://gdata/rows/2.jsonl']]);
    });

    test('a line that is not JSON fails the job with file and line; so do a missing bucket or prefix', async () => {
      await putS3(moto.s3, 'broken', { 'in/a.jsonl': '{"n": 1}\n{"n": 2}\n{"n": 3,}\n{"n": 4}\n' });
      const badId = await submit({
        workers: 1,
        delimited_files: { s3_paths: ['s3://broken/in/a.jsonl'], batch_size: 1 },
      });
      const bad = await ended(badId);
      assert.equal(bad.status, 'failed');
      assert.match(bad.message!, /failed while enqueuing: s3:\/\/broken\/in\/a\.jsonl:3: not JSON \(.+\); fix: /);
      // the two batches enqueued before line 3 are not left in the environment's Redis
      const port = readFileSync(path.join(local.home, 'redis', 'port'), 'utf8').trim();
      const broker = openBroker(`redis://127.0.0.1:${port}`);
      try {
        const depth = await broker.depth(batchStream({ api: 'recorder', id: badId }), BATCH_GROUP);
        assert.deepEqual(depth, { waiting: 0, pending: 0 });
      } finally {
        await broker.close();
      }

      const missing = await ended(
        await submit({ workers: 1, file_path_lister: { s3_paths: ['s3://no-such-bucket/x/'], batch_size: 1 } }),
      );
      assert.equal(missing.status, 'failed');
      assert.match(
        missing.message!,
        /s3:\/\/no-such-bucket\/x\/: the bucket does not exist \(NoSuchBucket.*\); fix: check the bucket name/,
      );

      const empty = await ended(
        await submit({ workers: 1, file_path_lister: { s3_paths: ['s3://broken/nothing/'], batch_size: 1 } }),
      );
      assert.equal(empty.status, 'failed');
      assert.match(empty.message!, /file_path_lister\.s3_paths: s3:\/\/broken\/nothing\/: no object's key starts with/);

      const filtered = await ended(
        await submit({
          workers: 1,
          file_path_lister: { s3_paths: ['s3://broken/in/'], includes: ['**.csv'], batch_size: 1 },
        }),
      );
      assert.equal(filtered.status, 'failed');
      assert.match(filtered.message!, /includes\/excludes left none of the objects under s3:\/\/broken\/in\//);
    });

    test('?dryRun=true on the gateway: the files includes/excludes keep, a line each; no job is created', async () => {
      await putS3(moto.s3, 'dry', {
        'images/img_1.png': 'p',
        'images/img_2.jpg': 'j',
        'images/img_3.jpg': 'j',
        'images/img_4.gif': 'g',
        'images/deep/img_5.jpg': 'j',
        'rows/a.jsonl': '1\n2\n',
        'rows/b.jsonl': '3\n',
        'rows/c.csv': 'x\n',
      });
      const jobIds = async () => {
        const r = await local.cortex(['get', 'recorder', '-o', 'json']);
        assert.equal(r.code, 0, r.stderr);
        return (JSON.parse(r.stdout) as { job_id: string }[]).map((j) => j.job_id).sort();
      };
      const before = await jobIds();
      const dryRun = async (job: Record<string, unknown>, query = 'dryRun=true') => {
        const r = await fetch(local.url(`/recorder?${query}`), { method: 'POST', body: JSON.stringify(job) });
        return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
      };
      const listed = await dryRun({
        workers: 1,
        file_path_lister: {
          s3_paths: ['s3://dry/images/'],
          includes: ['**.jpg'],
          excludes: ['**_3.jpg'],
          batch_size: 2,
        },
      });
      assert.deepEqual(listed, {
        status: 200,
        type: 'text/plain; charset=utf-8',
        text: 's3://dry/images/deep/img_5.jpg\ns3://dry/images/img_2.jpg\nvalidations passed',
      });
      // delimited_files: the files, not their lines
      const files = await dryRun({
        workers: 1,
        delimited_files: { s3_paths: ['s3://dry/rows/'], excludes: ['**.csv'], batch_size: 1 },
      });
      assert.equal(files.text, 's3://dry/rows/a.jsonl\ns3://dry/rows/b.jsonl\nvalidations passed');
      // item_list: nothing to list, as in Cortex
      const items = await dryRun({ workers: 1, item_list: { items: [1], batch_size: 1 } }, 'dryRun=1');
      assert.deepEqual([items.status, items.text], [200, 'validations passed']);

      // the enqueuer's errors, as a 400
      const missing = await dryRun({
        workers: 1,
        file_path_lister: { s3_paths: ['s3://no-such-bucket/x/'], batch_size: 1 },
      });
      assert.equal(missing.status, 400);
      assert.match(
        missing.text,
        /^s3:\/\/no-such-bucket\/x\/: the bucket does not exist \(NoSuchBucket.*\); fix: check the bucket name/,
      );
      const none = await dryRun({
        workers: 1,
        file_path_lister: { s3_paths: ['s3://dry/images/'], includes: ['**.webp'], batch_size: 1 },
      });
      assert.equal(none.status, 400);
      assert.match(
        none.text,
        /^file_path_lister: includes\/excludes left none of the objects under s3:\/\/dry\/images\//,
      );
      // a bad submission: the JSON 400 of a real POST
      const bad = await dryRun({ workers: 0, item_list: { items: [1], batch_size: 1 } });
      assert.equal(bad.status, 400);
      assert.match((JSON.parse(bad.text) as { error: string }).error, /^job submission: workers: /);

      assert.deepEqual(await jobIds(), before);
    });
  },
);
