// The CLI's job flows on the real control plane (the setup is helpers/job-cluster.ts's, as for
// test/batch/batchjob.cluster-test.ts: kwok, a real redis-server, the operator as a local process).
// The `recorder` BatchAPI and `trainer` TaskAPI are applied with kubectl first; jobs are submitted
// with `cortex submit`, and a TaskJob's pod is run here as its kubelet would (helpers/job-pods.ts:
// kwok only makes pods Running, the test reports their exit), so a task can fail, run past its
// timeout or be stopped; `cortex delete API JOB_ID` stops jobs (spec.stop) and `cortex logs API
// JOB_ID` reads their pods' logs (what the test's runs printed, served by kwok). Last, the CLI end
// to end as a user bound to exactly its declared rules: cortex deploy -e of a project with a
// BatchAPI from a bundle (shared with a RealtimeAPI, which is then deleted: the bundle stays, owned
// by the BatchAPI), cortex submit, the workers started from the unpacked bundle, and cortex delete
// API taking its jobs and bundle with it.
// Not part of `npm test`: `npm run test:cluster`.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RECORDING_HANDLER } from '../helpers/batch-job.ts';
import { unpackBundle } from '../helpers/bundle-unpack.ts';
import { kubeconfigAs } from '../helpers/identity.ts';
import { deployJobApis, jobProject, startJobCluster, type JobCluster } from '../helpers/job-cluster.ts';
import { runJobPod } from '../helpers/job-pods.ts';
import { clusterEnv, type CliResult, type LocalEnv } from '../helpers/local.ts';
import { cortexBin } from '../helpers/serve.ts';
import { redisMissing } from '../helpers/redis-server.ts';
import { CLUSTER_BUILD_TIMEOUT_MS } from '../helpers/test-cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import { cliUserRules } from '../../cli/cluster/rbac.ts';
import { mergeRules } from '../../operator/rbac.ts';
import { batchStream, jobKey } from '../../runtime/batch/job-keys.ts';

const NS = 'batch';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from kubectl, read field by field
type Obj = any;

describe('the CLI with BatchJobs and TaskJobs on the control plane', { skip: redisMissing, concurrency: false }, () => {
  let ctx: JobCluster | undefined;
  const suite = (): JobCluster => ctx!;

  before(
    async () => {
      ctx = await startJobCluster('cortex-job-cli-test', NS);
      await deployJobApis(ctx);
    },
    { timeout: CLUSTER_BUILD_TIMEOUT_MS },
  );
  after(() => ctx?.stop());

  test('a task that raises: the TaskJob fails saying so, and cortex logs API JOB_ID shows why', async () => {
    const { cluster, cortexCli, dir, jobPod, jobStatus, logFile } = suite();
    const c = await cortexCli();
    const output = path.join(dir, 'never.json');
    const submitted = await c.cortex(['submit', 'trainer', '-', '-e', 'test'], {
      input: JSON.stringify({ config: { output, fail: 'no data for the model' } }),
    });
    assert.equal(submitted.code, 0, submitted.stderr);
    const id = /submitted job (trainer-\w+)/.exec(submitted.stdout)![1];
    // followed from the submit on: through the time it has no pod, to its end
    const following = c.cortex(['logs', 'trainer', id, '-e', 'test', '-f'], { timeoutMs: 120_000 });
    const pod = await jobPod(id);
    const run = runJobPod(cluster.kubectl, pod, {
      project: jobProject(suite(), 'trainer'),
      envName: 'CORTEX_TASK',
      logFile,
    });
    assert.notEqual(await run.exited, 0);
    const followed = await following;
    assert.equal(followed.code, 0, followed.stderr);
    assert.equal(followed.stderr.trim().split('\n').at(-1), `job ${id} ended: failed`, followed.stderr);
    assert.ok(followed.stdout.includes('ValueError: no data for the model'), followed.stdout);
    const failed = await jobStatus('taskjob', id, ['succeeded', 'failed', 'timed_out']);
    assert.equal(failed.status.status, 'failed', JSON.stringify(failed.status));
    assert.match(failed.status.message, new RegExp(`the task failed .*; see cortex logs trainer ${id}`));
    assert.equal(failed.status.conditions[0].reason, 'TaskFailed');
    assert.ok(failed.status.endTime);
    const view = JSON.parse((await c.cortex(['get', 'trainer', id, '-e', 'test', '-o', 'json'])).stdout) as Obj;
    assert.deepEqual([view.kind, view.status], ['TaskAPI', 'failed']);
    const logs = await c.cortex(['logs', 'trainer', id, '-e', 'test']);
    assert.equal(logs.code, 0, logs.stderr);
    const mine = logs.stdout.split('\n').filter((l) => l.startsWith(`[${pod.metadata.name}] `));
    assert.ok(
      mine.some((l) => l.includes('ValueError: no data for the model')),
      logs.stdout,
    );
    assert.deepEqual(
      logs.stdout.split('\n').filter((l) => l !== '' && !l.startsWith(`[${pod.metadata.name}] `)),
      [],
      "only the job's pod",
    );
  });

  test('a task past its timeout: timed_out, its pod deleted by the Job deadline', async () => {
    const { cortexCli, dir, json, jobPod, jobStatus } = suite();
    const c = await cortexCli();
    // nobody finishes its pod: the task runs on until the deadline (spec.timeout, the Job's activeDeadlineSeconds)
    const submitted = await c.cortex(['submit', 'trainer', '-', '-e', 'test'], {
      input: JSON.stringify({ config: { output: path.join(dir, 'slow.json') }, timeout: 3 }),
    });
    assert.equal(submitted.code, 0, submitted.stderr);
    const id = /submitted job (trainer-\w+)/.exec(submitted.stdout)![1];
    await jobPod(id);
    const ended = await jobStatus('taskjob', id, ['succeeded', 'failed', 'timed_out']);
    assert.equal(ended.status.status, 'timed_out', JSON.stringify(ended.status));
    assert.match(ended.status.message, /not finished within its timeout of 3 s/);
    assert.equal(ended.status.conditions[0].reason, 'TimedOut');
    await waitFor('its pod deleted', async () => {
      const list = await json(['get', 'pods', '-n', NS, '-l', `cortex.dev/job=${id}`]);
      return list.items.length === 0;
    });
  });

  test('cortex delete API JOB_ID stops a running BatchJob: workers and queue gone, resource kept', async () => {
    const { cluster, cortexCli, dir, json, jobPod, jobStatus, redis } = suite();
    const c = await cortexCli();
    const job = { workers: 1, item_list: { items: [1, 2, 3], batch_size: 2 }, config: { out: dir } };
    const submitted = await c.cortex(['submit', 'recorder', '-', '-e', 'test'], { input: JSON.stringify(job) });
    assert.equal(submitted.code, 0, submitted.stderr);
    const id = /submitted job (recorder-\w+)/.exec(submitted.stdout)![1];
    const bj = await json(['get', 'batchjob', id, '-n', NS, '-o', 'json']);
    assert.deepEqual(bj.spec.itemList, { items: [1, 2, 3], batchSize: 2 });
    // no worker takes its batches: it runs until stopped
    const got = await waitFor('the job running', async () => {
      const r = await c.cortex(['get', 'recorder', id, '-e', 'test', '-o', 'json']);
      const view = JSON.parse(r.stdout) as Obj;
      return view.status === 'running' && view;
    });
    assert.equal(got.batch_metrics.total, 2);
    assert.match((await c.cortex(['get', 'recorder', '-e', 'test'])).stdout, new RegExp(`${id}\\s+running`));
    await jobPod(id);
    const queue = new Redis(redis.url);
    try {
      assert.equal(await queue.exists(batchStream({ api: 'recorder', id })), 1);
      const deleted = await c.cortex(['delete', 'recorder', id, '-e', 'test']);
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.match(deleted.stdout, new RegExp(`stopping job ${id}`));
      const stopped = await jobStatus('batchjob', id, ['stopped']);
      assert.equal(stopped.spec.stop, true);
      assert.match(stopped.status.message, /stopped by request/);
      assert.ok(stopped.status.endTime);
      assert.deepEqual(stopped.status.batches, { total: 2, enqueued: 0, succeeded: 0, failed: 0 });
      const complete = stopped.status.conditions.find((x: Obj) => x.type === 'Complete');
      assert.deepEqual([complete.status, complete.reason], ['True', 'Stopped']);
      assert.equal(await queue.exists(batchStream({ api: 'recorder', id })), 0, 'its queued batches are dropped');
      const record = JSON.parse((await queue.get(jobKey({ api: 'recorder', id }, 'record')))!) as Obj;
      assert.equal(record.status, 'stopped');
      await waitFor('its Job and pods deleted', async () => {
        const pods = await json(['get', 'pods', '-n', NS, '-l', `cortex.dev/job=${id}`]);
        const jobs = await json(['get', 'jobs', '-n', NS]);
        return pods.items.length === 0 && !jobs.items.some((j: Obj) => j.metadata.name === id);
      });
    } finally {
      queue.disconnect();
    }
    const view = JSON.parse((await c.cortex(['get', 'recorder', id, '-e', 'test', '-o', 'json'])).stdout) as Obj;
    assert.equal(view.status, 'stopped', 'the BatchJob stays, for its status');
    const again = await c.cortex(['delete', 'recorder', id, '-e', 'test']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.trim(), `job ${id} had ended: stopped`);
    // the CRD's transition rule: a stop is not taken back
    const undo = cluster.kubectl(['patch', 'batchjob', id, '-n', NS, '--type=merge', '-p', '{"spec":{"stop":false}}']);
    await assert.rejects(undo, /spec.stop cannot go back to false/);
    const bad = await c.cortex(['submit', 'recorder', '-', '-e', 'test'], { input: '{"workers": 1}' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /item_list: is required/);
  });

  test('cortex delete API JOB_ID stops a running TaskJob; cortex logs API JOB_ID shows what it printed', async () => {
    const { cluster, cortexCli, dir, json, jobPod, jobStatus, logFile } = suite();
    const c = await cortexCli();
    const submitted = await c.cortex(['submit', 'trainer', '-', '-e', 'test'], {
      input: JSON.stringify({ config: { output: path.join(dir, 'stopped.json'), sleep: 600 } }),
    });
    assert.equal(submitted.code, 0, submitted.stderr);
    const id = /submitted job (trainer-\w+)/.exec(submitted.stdout)![1];
    const pod = await jobPod(id);
    const project = jobProject(suite(), 'trainer');
    const run = runJobPod(cluster.kubectl, pod, { project, envName: 'CORTEX_TASK', logFile });
    await waitFor('the task started', async () => run.lines.some((l) => l.includes('task for')), 60_000);
    await jobStatus('taskjob', id, ['running']);
    const logs = await c.cortex(['logs', 'trainer', id, '-e', 'test']);
    assert.equal(logs.code, 0, logs.stderr);
    const printed = `"message":"task for ${path.join(dir, 'stopped.json')}"`; // print() goes through the JSON log
    const line = logs.stdout.split('\n').find((l) => l.includes(printed));
    assert.ok(line?.startsWith(`[${pod.metadata.name}] {`), logs.stdout);

    const following = followLogs(c, ['logs', 'trainer', id, '-e', 'test', '-f']);
    await waitFor('logs -f printing the task', async () => following.stdout().includes(printed), 30_000);
    const deleted = await c.cortex(['delete', 'trainer', id, '-e', 'test']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, new RegExp(`stopping job ${id}`));
    // -f ends by itself once the job is stopped and its pod gone
    const followed = await following.done;
    assert.equal(followed.code, 0, followed.stderr);
    assert.equal(followed.stderr.trim().split('\n').at(-1), `job ${id} ended: stopped`, followed.stderr);
    assert.ok(followed.stdout.includes(printed), followed.stdout);
    const stopped = await jobStatus('taskjob', id, ['stopped', 'failed', 'succeeded']);
    assert.equal(stopped.status.status, 'stopped', JSON.stringify(stopped.status));
    assert.deepEqual([stopped.status.conditions[0].reason, Boolean(stopped.status.endTime)], ['Stopped', true]);
    await waitFor('its Job and pod deleted', async () => {
      const pods = await json(['get', 'pods', '-n', NS, '-l', `cortex.dev/job=${id}`]);
      const jobs = await json(['get', 'jobs', '-n', NS]);
      return pods.items.length === 0 && !jobs.items.some((j: Obj) => j.metadata.name === id);
    });
    assert.notEqual(await run.exited, 0, 'the task was stopped (SIGTERM, as the kubelet does on a deleted pod)');
    assert.equal((await json(['get', 'taskjob', id, '-n', NS])).status.status, 'stopped', 'the TaskJob stays');
    const again = await c.cortex(['delete', 'trainer', id, '-e', 'test']);
    assert.equal(again.stdout.trim(), `job ${id} had ended: stopped`);
  });

  test('cortex deploy -e of a BatchAPI from a bundle, submit, run from the unpacked bundle, delete', async () => {
    const { cluster, dir, json, startWorker } = suite();
    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'cortex-user' },
        rules: mergeRules(cliUserRules),
      }),
    });
    await cluster.kubectl(['create', 'rolebinding', 'bob-cortex', '-n', NS, '--clusterrole=cortex-user', '--user=bob']);
    const project = path.join(dir, 'deployed');
    const out = path.join(dir, 'deployed-out');
    mkdirSync(project);
    mkdirSync(out);
    writeFileSync(path.join(project, 'handler.py'), RECORDING_HANDLER);
    writeFileSync(
      path.join(project, 'predictor.py'),
      'class PythonPredictor:\n    def predict(self, payload):\n        return 1\n',
    );
    writeFileSync(
      path.join(project, 'cortex.yaml'),
      '- name: web\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n' +
        `- name: counter\n  kind: BatchAPI\n  handler:\n    path: handler.py\n    config:\n      out: ${out}\n`,
    );
    const clash = path.join(dir, 'clash');
    mkdirSync(clash);
    writeFileSync(path.join(clash, 'predictor.py'), '');
    writeFileSync(
      path.join(clash, 'cortex.yaml'),
      '- name: other\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n' +
        '  networking:\n    endpoint: /counter\n',
    );
    const bundles = async (): Promise<Obj[]> =>
      (await json(['get', 'configmaps', '-n', NS, '-l', 'cortex.dev/bundle', '-o', 'json'])).items;
    const ownerKinds = (cm: Obj) => (cm.metadata.ownerReferences ?? []).map((r: Obj) => `${r.kind}/${r.name}`).sort();
    // bob's own CLI: env test configured with his kubeconfig, not the cluster admin's
    const cli = await clusterEnv(kubeconfigAs(cluster, 'bob', path.join(dir, 'bob.kubeconfig')), NS);
    try {
      const deployed = await cli.cortex(['deploy', project, '-e', 'test', '--no-wait']);
      assert.equal(deployed.code, 0, deployed.stderr);
      assert.match(deployed.stderr, /uploading the bundle \(1 ConfigMap\)/);
      assert.match(deployed.stderr, /creating BatchAPI counter/);
      assert.match(
        deployed.stdout,
        /BatchAPI counter created in test \(namespace batch\); submit a job with: cortex submit counter job\.json -e test/,
      );
      const batchApi = await json(['get', 'batchapi', 'counter', '-n', NS, '-o', 'json']);
      const web = await json(['get', 'realtimeapi', 'web', '-n', NS, '-o', 'json']);
      assert.deepEqual(batchApi.spec.predictor.bundle, web.spec.predictor.bundle, 'one bundle for the project');
      assert.equal(batchApi.metadata.labels['app.kubernetes.io/managed-by'], 'cortex');
      // both APIs own the bundle (the operator adds them)
      const [bundle] = await waitFor('both APIs to own the bundle', async () => {
        const cms = await bundles();
        return cms.length === 1 && ownerKinds(cms[0]).length === 2 && cms;
      });
      assert.deepEqual(ownerKinds(bundle), ['BatchAPI/counter', 'RealtimeAPI/web']);

      const again = await cli.cortex(['deploy', project, '-e', 'test', '--no-wait', '-o', 'json']);
      assert.equal(again.code, 0, again.stderr);
      const plans = JSON.parse(again.stdout) as Obj[];
      assert.deepEqual(
        plans.map((r) => [r.api, r.kind, r.action, r.status]),
        [
          ['web', 'RealtimeAPI', 'up-to-date', 'applied'],
          ['counter', 'BatchAPI', 'up-to-date', 'applied'],
        ],
      );
      const clashed = await cli.cortex(['deploy', clash, '-e', 'test', '--no-wait']);
      assert.equal(clashed.code, 2, clashed.stderr);
      assert.match(
        clashed.stderr,
        /RealtimeAPI other: networking\.endpoint: \/counter is already served by BatchAPI counter/,
      );

      const listed = await cli.cortex(['get', '-e', 'test']);
      assert.match(listed.stdout, /counter\s+BatchAPI\s+0\s+/);
      assert.match(listed.stdout, /^web\s/m);

      // the RealtimeAPI goes; the bundle stays, the BatchAPI's
      const webDeleted = await cli.cortex(['delete', 'web', '-e', 'test', '-y']);
      assert.equal(webDeleted.code, 0, webDeleted.stderr);
      const [kept] = await bundles();
      assert.equal(kept?.metadata.name, bundle.metadata.name);
      assert.deepEqual(ownerKinds(kept), ['BatchAPI/counter']);

      const job = { workers: 2, item_list: { items: [1, 2, 3, 4, 5], batch_size: 2 } };
      const submitted = await cli.cortex(['submit', 'counter', '-', '-e', 'test'], { input: JSON.stringify(job) });
      assert.equal(submitted.code, 0, submitted.stderr);
      const id = /submitted job (counter-\w+)/.exec(submitted.stdout)![1];
      const pods = await waitFor(
        'the workers’ pods',
        async () => {
          const list = await json(['get', 'pods', '-n', NS, '-l', `cortex.dev/job=${id}`, '-o', 'json']);
          return list.items.length === 2 && list.items;
        },
        60_000,
      );
      for (const [i, pod] of pods.entries()) {
        const unpacked = await unpackBundle(
          pod.spec,
          (name) => json(['get', 'configmap', name, '-n', NS, '-o', 'json']),
          path.join(dir, `worker-${i}`),
        );
        assert.equal(readFileSync(path.join(unpacked, 'handler.py'), 'utf8'), RECORDING_HANDLER);
        startWorker(pod, unpacked);
      }
      const done = await waitFor(
        'the deployed BatchAPI’s job to succeed',
        async () => {
          const r = await cli.cortex(['get', 'counter', id, '-e', 'test', '-o', 'json']);
          const view = JSON.parse(r.stdout) as Obj;
          return view.status === 'succeeded' && view;
        },
        90_000,
      );
      assert.deepEqual(done.batch_metrics, { total: 3, enqueued: 0, succeeded: 3, failed: 0 });
      const items = readFileSync(path.join(out, 'done'), 'utf8')
        .trim()
        .split('\n')
        .flatMap((l) => (JSON.parse(l) as { items: number[] }).items)
        .sort();
      assert.deepEqual(items, [1, 2, 3, 4, 5], 'the handler from the bundle ran every item once');

      const deleted = await cli.cortex(['delete', 'counter', '-e', 'test', '-y']);
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.match(
        deleted.stdout,
        /deleted BatchAPI counter from test; its jobs and their workers were deleted with it/,
      );
      assert.equal(
        (await cluster.kubectl(['get', 'batchapi,batchjob', '-n', NS, '-o', 'name'])).includes('counter'),
        false,
      );
      await waitFor('the bundle deleted with its last owner', async () => (await bundles()).length === 0, 60_000);
      // the job APIs applied with kubectl in before() are still listed; counter and web are not
      const listedAfter = await cli.cortex(['get', '-e', 'test']);
      assert.equal(listedAfter.code, 0, listedAfter.stderr);
      assert.match(listedAfter.stdout, /recorder\s+BatchAPI/);
      assert.match(listedAfter.stdout, /trainer\s+TaskAPI/);
      assert.doesNotMatch(listedAfter.stdout, /counter|^web\s/m);
    } finally {
      await cli.cleanup();
    }
  });
});

/** `cortex ARGS` of the env `c`, left running: what it printed so far, and how it ended (within 2 min). */
function followLogs(c: LocalEnv, args: string[]): { stdout(): string; done: Promise<CliResult> } {
  const env: Record<string, string | undefined> = { ...process.env, ...c.env, NODE_TEST_CONTEXT: undefined };
  const proc = execa(process.execPath, [cortexBin, ...args], {
    env,
    extendEnv: false,
    reject: false,
    timeout: 120_000,
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const done = proc.then((r) => ({ code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }));
  return { stdout: () => out, done };
}
