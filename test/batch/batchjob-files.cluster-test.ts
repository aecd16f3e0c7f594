// BatchJobs whose items come from a bucket, on the real control plane: the CRD's CEL rule refuses
// a BatchJob with none or two of itemList, filePathLister, delimitedFiles; the operator (a local
// process with its ServiceAccount's rights, a real redis-server as its queue, moto's S3 server on
// loopback as the bucket, reached with the operator's own environment) lists and reads the objects
// and enqueues their batches (status.batches.total), or fails the job naming the bad line. The
// workers' side is test/batch/batchjob.cluster-test.ts's (the same queue); kwok runs no pods.
// The operator's activator (on loopback) answers POST /reader?dryRun=true with the same listing,
// made with the operator's environment, and creates no BatchJob.
// Not part of `npm test`: `npm run test:cluster`.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Cluster } from '../cluster/cluster.ts';
import { freePort } from '../helpers/local.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { S3_CREDENTIALS, putS3, startMoto } from '../helpers/storage-servers.ts';
import { CLUSTER_BUILD_TIMEOUT_MS, startTestCluster } from '../helpers/test-cluster.ts';
import { waitFor } from '../helpers/wait.ts';

const NS = 'batchfiles';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from kubectl, read field by field
type Obj = any;

describe('BatchJobs over bucket files on the control plane', { skip: redisMissing, concurrency: false }, () => {
  let dir: string;
  let cluster: Cluster;
  let redis: RedisServer;
  let moto: Awaited<ReturnType<typeof startMoto>>;
  let operator: OperatorProcess | undefined;
  let activatorPort: number;
  const saved = { ...process.env };

  before(
    async () => {
      let poolsFile: string;
      ({ dir, poolsFile, cluster } = await startTestCluster('cortex-batchfiles-test', NS));
      [redis, moto] = await Promise.all([startRedis(), startMoto()]);
      // the operator process inherits this environment: its credentials and endpoint for s3://
      Object.assign(process.env, S3_CREDENTIALS, { AWS_ENDPOINT_URL: moto.url });
      activatorPort = await freePort();
      operator = await startOperator(cluster, dir, {
        nodePoolsFile: poolsFile,
        extraArgs: [
          ...['--queue-url', redis.url],
          ...['--activator-port', String(activatorPort), '--activator-bind-address', '127.0.0.1'],
        ],
      });
      await cluster.kubectl(['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'cortex.dev/v1alpha1',
          kind: 'BatchAPI',
          metadata: { name: 'reader', namespace: NS },
          spec: { predictor: { type: 'python', path: 'handler.py', image: 'fake.invalid/reader:1' } },
        }),
      });
    },
    { timeout: CLUSTER_BUILD_TIMEOUT_MS },
  );

  after(async () => {
    await operator?.stop();
    if (process.exitCode || process.env.CORTEX_TEST_OPERATOR_LOG) {
      process.stderr.write(`--- operator log (last 60 lines) ---\n${operator?.logs.slice(-60).join('\n')}\n`);
    }
    process.env = saved;
    await moto?.stop();
    await redis?.close();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const batchJob = (name: string, spec: Record<string, unknown>) => ({
    apiVersion: 'cortex.dev/v1alpha1',
    kind: 'BatchJob',
    metadata: { name, namespace: NS },
    spec: { api: 'reader', workers: 1, ...spec },
  });
  const apply = (obj: unknown) =>
    cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj) }).then(
      () => '',
      (error: Error) => error.message,
    );
  const status = (name: string, until: (s: Obj) => boolean, what: string) =>
    waitFor(
      what,
      async () => {
        const bj = (await cluster.kubectl.json<Obj>(['get', 'batchjob', name, '-n', NS, '-o', 'json'])).status;
        return bj && until(bj) && bj;
      },
      60_000,
    );

  test('the API server refuses a BatchJob with no source of items, or two', async () => {
    const one = /exactly one of itemList, filePathLister, delimitedFiles must be set/;
    assert.match(await apply(batchJob('none', {})), one);
    const lister = { s3Paths: ['s3://b/x/'], batchSize: 1 };
    assert.match(await apply(batchJob('two', { itemList: { items: [1], batchSize: 1 }, delimitedFiles: lister })), one);
    assert.match(
      await apply(batchJob('http', { filePathLister: { s3Paths: ['https://x/y'], batchSize: 1 } })),
      /s3Paths/,
    );
  });

  test('the operator enqueues the lines of delimited files and the URLs a file lister selects', async () => {
    await putS3(moto.s3, 'lines', {
      'in/a.jsonl': '{"n": 1}\n{"n": 2}\n{"n": 3}\n{"n": 4}\n',
      'in/b.jsonl': '{"n": 5}\n\n{"n": 6}\n{"n": 7}',
      'in/c.txt': 'not json\n',
    });
    const delimited = { s3Paths: ['s3://lines/in/'], includes: ['**.jsonl'], batchSize: 3 };
    assert.equal(await apply(batchJob('lines', { delimitedFiles: delimited })), '');
    const lines = await status('lines', (s) => s.batches?.total !== undefined, 'the lines enqueued');
    assert.equal(lines.batches.total, 3, JSON.stringify(lines)); // 7 lines in batches of 3
    assert.ok(['running', 'enqueuing'].includes(lines.status), JSON.stringify(lines));

    const paths = { s3Paths: ['s3://lines/in/'], excludes: ['**.txt'], batchSize: 1 };
    assert.equal(await apply(batchJob('paths', { filePathLister: paths })), '');
    const listed = await status('paths', (s) => s.batches?.total !== undefined, 'the URLs enqueued');
    assert.equal(listed.batches.total, 2, JSON.stringify(listed));
  });

  test('a line that is not JSON, or a bucket that does not exist, fails the BatchJob saying where', async () => {
    await putS3(moto.s3, 'lines', { 'bad/x.jsonl': '{"n": 1}\n{"n": 2\n' });
    assert.equal(
      await apply(batchJob('badline', { delimitedFiles: { s3Paths: ['s3://lines/bad/'], batchSize: 5 } })),
      '',
    );
    const bad = await status('badline', (s) => s.status === 'failed', 'the BatchJob to fail');
    assert.match(bad.message, /failed while enqueuing: s3:\/\/lines\/bad\/x\.jsonl:2: not JSON/);
    assert.equal(bad.conditions[0].reason, 'EnqueueFailed');

    assert.equal(
      await apply(batchJob('nobucket', { filePathLister: { s3Paths: ['s3://no-such-bucket/'], batchSize: 5 } })),
      '',
    );
    const missing = await status('nobucket', (s) => s.status === 'failed', 'the BatchJob to fail');
    assert.match(missing.message, /s3:\/\/no-such-bucket\/: the bucket does not exist/);
  });

  test("the activator's ?dryRun=true lists with the operator's credentials and creates no BatchJob", async () => {
    await putS3(moto.s3, 'dry', { 'in/a.jsonl': '1\n', 'in/b.jsonl': '2\n', 'in/c.txt': 'x\n' });
    // the activator serves the API once its status.endpoint is written
    await waitFor('the activator to serve reader', async () => {
      const o = await cluster.kubectl.json<Obj>(['get', 'batchapi', 'reader', '-n', NS, '-o', 'json']);
      return o.status?.endpoint === '/reader';
    });
    const jobs = async () =>
      (await cluster.kubectl.json<Obj>(['get', 'batchjobs', '-n', NS, '-o', 'json'])).items.map(
        (o: Obj) => o.metadata.name as string,
      );
    const before = await jobs();
    const dryRun = async (job: unknown) => {
      const r = await fetch(`http://127.0.0.1:${activatorPort}/reader?dryRun=true`, {
        method: 'POST',
        body: JSON.stringify(job),
      });
      return { status: r.status, text: await r.text() };
    };
    const lister = { s3_paths: ['s3://dry/in/'], excludes: ['**.txt'], batch_size: 1 };
    assert.deepEqual(await dryRun({ workers: 1, delimited_files: lister }), {
      status: 200,
      text: 's3://dry/in/a.jsonl\ns3://dry/in/b.jsonl\nvalidations passed',
    });
    const missing = await dryRun({
      workers: 1,
      file_path_lister: { s3_paths: ['s3://no-such-bucket/'], batch_size: 1 },
    });
    assert.equal(missing.status, 400);
    assert.match(missing.text, /^s3:\/\/no-such-bucket\/: the bucket does not exist/);
    assert.deepEqual(await jobs(), before);
  });
});
