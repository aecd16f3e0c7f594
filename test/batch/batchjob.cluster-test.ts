// A BatchJob on the real control plane, operator-side: a BatchAPI (image-only: predictor.image,
// its project a folder here) and a BatchJob applied with kubectl; the operator (a local process
// with its ServiceAccount's rights, and a real redis-server as its queue) owns the job to its API,
// enqueues the batches and creates the Indexed Job of `workers` pods. kwok runs no containers, so
// each pod's `cortex batch-worker` is started here with the pod's own command and env (its
// /mnt/project mapped to the project folder), as the kubelet would. The BatchJob's status then
// follows the queue to succeeded, with its batch counts; a BatchJob of a missing API fails saying
// so. A TaskJob's pod is run the same way (helpers/job-pods.ts: kwok only makes pods Running, the
// test reports their exit) and its status follows its Job to succeeded. The activator (on loopback)
// serves the job APIs' HTTP endpoints: jobs submitted, read and stopped over HTTP are the same
// resources. The setup is helpers/job-cluster.ts's; the CLI's flows on the same kind of cluster
// (failing, timed-out and stopped jobs, cortex logs, cortex deploy of a BatchAPI from a bundle) are
// test/batch/job-cli.cluster-test.ts's.
// Not part of `npm test`: `npm run test:cluster`.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runJobPod } from '../helpers/job-pods.ts';
import { recorderApi, startJobCluster, trainerApi, writeJobProject, type JobCluster } from '../helpers/job-cluster.ts';
import { redisMissing } from '../helpers/redis-server.ts';
import { CLUSTER_BUILD_TIMEOUT_MS } from '../helpers/test-cluster.ts';
import { waitFor } from '../helpers/wait.ts';

const NS = 'batch';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from kubectl, read field by field
type Obj = any;

describe('BatchJobs and TaskJobs on the control plane', { skip: redisMissing, concurrency: false }, () => {
  let ctx: JobCluster | undefined;
  const suite = (): JobCluster => ctx!;

  before(async () => (ctx = await startJobCluster('cortex-batch-test', NS)), { timeout: CLUSTER_BUILD_TIMEOUT_MS });
  after(() => ctx?.stop());

  test('the operator enqueues, runs the Indexed Job of workers, and the status follows the queue', async () => {
    const { cluster, dir, json, workers } = suite();
    const project = writeJobProject(suite(), 'recorder');
    const out = path.join(dir, 'out');
    mkdirSync(out);
    const api = recorderApi(NS);
    const job = {
      apiVersion: 'cortex.dev/v1alpha1',
      kind: 'BatchJob',
      metadata: { name: 'nightly', namespace: NS },
      spec: { api: 'recorder', workers: 2, itemList: { items: [1, 2, 3, 4, 5, 6, 7], batchSize: 2 }, config: { out } },
    };
    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ kind: 'List', apiVersion: 'v1', items: [api, job] }),
    });

    const k8sJob = await waitFor(
      'the Indexed Job',
      () => json(['get', 'job', 'nightly', '-n', NS, '-o', 'json']),
      30_000,
    );
    assert.equal(k8sJob.spec.completionMode, 'Indexed');
    assert.equal(k8sJob.spec.parallelism, 2);
    assert.equal(k8sJob.metadata.ownerReferences[0].kind, 'BatchJob');
    const owned = await json(['get', 'batchjob', 'nightly', '-n', NS, '-o', 'json']);
    assert.ok(owned.metadata.ownerReferences.some((r: Obj) => r.kind === 'BatchAPI' && r.name === 'recorder'));
    const running = await json(['get', 'batchjob', 'nightly', '-n', NS, '-o', 'json']);
    assert.ok(['running', 'enqueuing'].includes(running.status.status), JSON.stringify(running.status));

    const pods = await waitFor(
      'the workers’ pods',
      async () => {
        const list = await json(['get', 'pods', '-n', NS, '-l', 'cortex.dev/job=nightly', '-o', 'json']);
        return list.items.length === 2 && list.items;
      },
      60_000,
    );
    for (const pod of pods) {
      const c = pod.spec.containers.find((x: Obj) => x.name === 'api');
      assert.deepEqual(c.command, ['cortex', 'batch-worker']);
      assert.equal(c.ports, undefined, 'a worker serves nothing');
      assert.equal(pod.metadata.labels['cortex.dev/api'], undefined, "no RealtimeAPI's Service selects it");
      // (startWorker checks that its project_dir is /mnt/project before mapping it here)
      suite().startWorker(pod, project);
    }
    const done = await waitFor(
      'the BatchJob to succeed',
      async () => {
        const bj = await json(['get', 'batchjob', 'nightly', '-n', NS, '-o', 'json']);
        return bj.status?.status === 'succeeded' && bj;
      },
      90_000,
    );
    assert.deepEqual(done.status.batches, { total: 4, enqueued: 0, succeeded: 4, failed: 0 });
    const complete = done.status.conditions.find((c: Obj) => c.type === 'Complete');
    assert.equal(complete.status, 'True');
    assert.equal(complete.reason, 'Succeeded');
    await Promise.all(workers.map((w) => w));
    assert.deepEqual(
      workers.map((w) => w.exitCode),
      [0, 0],
      'every worker exits 0 once the queue is empty',
    );
  });

  test('a BatchJob of a BatchAPI that does not exist fails, naming it', async () => {
    const { cluster, json } = suite();
    const job = {
      apiVersion: 'cortex.dev/v1alpha1',
      kind: 'BatchJob',
      metadata: { name: 'orphan', namespace: NS },
      spec: { api: 'nowhere', workers: 1, itemList: { items: [1], batchSize: 1 } },
    };
    await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(job) });
    const failed = await waitFor(
      'the BatchJob to fail',
      async () => {
        const bj = await json(['get', 'batchjob', 'orphan', '-n', NS, '-o', 'json']);
        return bj.status?.status === 'failed' && bj;
      },
      30_000,
    );
    assert.match(failed.status.message, /no BatchAPI nowhere in namespace batch/);
    assert.equal(failed.status.conditions[0].reason, 'NoBatchAPI');
  });

  test('a TaskJob: owned by its TaskAPI, one pod of cortex task-runner, status from its Job', async () => {
    const { cluster, dir, json, jobPod, jobStatus, logFile } = suite();
    const project = writeJobProject(suite(), 'trainer');
    const output = path.join(dir, 'task-output.json');
    const api = trainerApi(NS);
    const job = {
      apiVersion: 'cortex.dev/v1alpha1',
      kind: 'TaskJob',
      metadata: { name: 'retrain', namespace: NS },
      spec: { api: 'trainer', config: { output, b: 2 }, timeout: 600 },
    };
    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ kind: 'List', apiVersion: 'v1', items: [api, job] }),
    });
    const k8sJob = await waitFor(
      "the task's Job",
      () => json(['get', 'job', 'retrain', '-n', NS, '-o', 'json']),
      30_000,
    );
    assert.equal(k8sJob.spec.parallelism, 1);
    assert.equal(k8sJob.spec.backoffLimitPerIndex, 0, 'a task is not retried');
    assert.equal(k8sJob.spec.activeDeadlineSeconds, 600);
    const c = k8sJob.spec.template.spec.containers.find((x: Obj) => x.name === 'api');
    assert.deepEqual(c.command, ['cortex', 'task-runner']);
    const run = runJobPod(cluster.kubectl, await jobPod('retrain'), { project, envName: 'CORTEX_TASK', logFile });
    assert.equal(await run.exited, 0, run.lines.join('\n'));
    assert.deepEqual(JSON.parse(readFileSync(output, 'utf8')), { a: 1, output, b: 2 });
    const owned = await json(['get', 'taskjob', 'retrain', '-n', NS, '-o', 'json']);
    assert.ok(owned.metadata.ownerReferences.some((r: Obj) => r.kind === 'TaskAPI' && r.name === 'trainer'));
    // the pod's exit (written as the kubelet would) completes the Job; the TaskJob follows it
    const done = await jobStatus('taskjob', 'retrain', ['succeeded', 'failed', 'timed_out']);
    assert.equal(done.status.status, 'succeeded', JSON.stringify(done.status));
    assert.equal(done.status.conditions[0].reason, 'Succeeded');
  });

  test('the activator serves the endpoints: POST creates the job, GET reads it, DELETE sets spec.stop', async () => {
    const { activatorPort, dir, json } = suite();
    const call = async (method: string, url: string, headers: Record<string, string> = {}, body?: string) => {
      const r = await fetch(`http://127.0.0.1:${activatorPort}${url}`, { method, headers, body });
      return { status: r.status, body: (await r.json()) as Obj };
    };
    const named = { 'x-cortex-api': `${NS}/recorder` };
    const job = { workers: 1, item_list: { items: [1, 2, 3], batch_size: 2 }, config: { out: dir } };
    // the informers may still be listing the APIs: the activator waits for them
    const posted = await call('POST', '/recorder', named, JSON.stringify(job));
    assert.equal(posted.status, 200, JSON.stringify(posted.body));
    const id = String(posted.body.job_id);
    assert.match(id, /^recorder-[0-9a-z]+$/);
    assert.equal(posted.body.status, 'pending');
    const bj = await json(['get', 'batchjob', id, '-n', NS, '-o', 'json', '--show-managed-fields']);
    assert.deepEqual(bj.spec.itemList, { items: [1, 2, 3], batchSize: 2 });
    assert.equal(bj.spec.workers, 1);
    assert.deepEqual(bj.spec.config, { out: dir });
    assert.ok(bj.metadata.managedFields.some((f: Obj) => f.manager === 'cortex-job-endpoint'));

    // read back by the path alone (no header: a port-forward's Host), as the operator runs it
    const running = await waitFor('the job running', async () => {
      const r = await call('GET', `/recorder?jobID=${id}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.job_status.status === 'running' && r.body;
    });
    assert.equal(running.endpoint, '/recorder');
    assert.equal(running.job_status.batch_metrics.total, 2);
    assert.equal(running.job_status.api_name, 'recorder');

    // the activator writes where it serves each job API (kubectl get bapi's ENDPOINT)
    for (const [kind, name] of [
      ['batchapi', 'recorder'],
      ['taskapi', 'trainer'],
    ]) {
      await waitFor(`${kind} ${name}'s status.endpoint`, async () => {
        const o = await json(['get', kind, name, '-n', NS, '-o', 'json']);
        return o.status?.endpoint === `/${name}`;
      });
    }

    const stopped = await call('DELETE', `/?jobID=${id}`, named);
    assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
    assert.match(stopped.body.message, new RegExp(`^stopping job ${id}`));
    assert.equal((await json(['get', 'batchjob', id, '-n', NS, '-o', 'json'])).spec.stop, true);

    const notJson = await call('POST', '/recorder', named, '{"workers": 1,');
    assert.equal(notJson.status, 400);
    assert.match(notJson.body.error, /^the job is not JSON: /);
    const bad = await call('POST', '/recorder', named, '{"workers": 1}');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /^job submission: item_list: is required: the job's items are one of .*; fix: /);
    const unknown = await call('GET', '/recorder?jobID=recorder-nosuchjob', named);
    assert.deepEqual(unknown, { status: 404, body: { error: 'recorder has no job recorder-nosuchjob' } });
    // another API's job is not this endpoint's
    assert.equal((await call('GET', `/?jobID=${id}`, { 'x-cortex-api': `${NS}/trainer` })).status, 404);

    const task = await call(
      'POST',
      '/trainer',
      {},
      JSON.stringify({ config: { output: path.join(dir, 'http.json') } }),
    );
    assert.equal(task.status, 200, JSON.stringify(task.body));
    assert.equal(task.body.kind, 'TaskAPI');
    const tj = await json(['get', 'taskjob', String(task.body.job_id), '-n', NS, '-o', 'json']);
    assert.equal(tj.spec.api, 'trainer');
  });
});
