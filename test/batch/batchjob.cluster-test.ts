// A BatchJob on the real control plane: a BatchAPI (image-only: predictor.image, its project a
// folder here) and a BatchJob applied with kubectl; the operator (a local process with its
// ServiceAccount's rights, and a real redis-server as its queue) owns the job to its API, enqueues
// the batches and creates the Indexed Job of `workers` pods. kwok runs no containers, so each pod's
// `cortex batch-worker` is started here with the pod's own command and env (its /mnt/project
// mapped to the project folder), as the kubelet would. The BatchJob's status then follows the
// queue to succeeded, with its batch counts; a BatchJob of a missing API fails saying so. A
// TaskJob's pod is run the same way (helpers/job-pods.ts: kwok only makes pods Running, the test
// reports their exit), so a task can succeed, fail, run past its timeout or be stopped; and
// `cortex delete API JOB_ID` stops jobs (spec.stop), `cortex logs API JOB_ID` reads their pods'
// logs (what the test's runs printed, served by kwok). The activator (on loopback) serves the job
// APIs' HTTP endpoints: jobs submitted, read and stopped over HTTP are the same resources.
// Last, the CLI end to end as a user bound to exactly its declared rules: cortex deploy -e of a
// project with a BatchAPI from a bundle (shared with a RealtimeAPI, which is then deleted: the
// bundle stays, owned by the BatchAPI), cortex submit, the workers started from the unpacked
// bundle, and cortex delete API taking its jobs and bundle with it.
// Not part of `npm test`: `npm run test:cluster`.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa, type ResultPromise } from 'execa';
import type { Cluster } from '../cluster/cluster.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { freePort, localEnv, type LocalEnv } from '../helpers/local.ts';
import { kwokJobConfig, runJobPod } from '../helpers/job-pods.ts';
import { RECORDING_HANDLER } from '../helpers/batch-job.ts';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { cortexBin } from '../helpers/serve.ts';
import { startTestCluster } from '../helpers/test-cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import { PROJECT_DIR } from '../../operator/reconcilers/deployment.ts';
import { batchStream, jobKey } from '../../runtime/batch/job-keys.ts';
import { Redis } from 'ioredis';
import { cliUserRules } from '../../cli/cluster/rbac.ts';
import { mergeRules } from '../../operator/rbac.ts';
import { kubeconfigAs } from '../helpers/identity.ts';
import { unpackBundle } from '../helpers/bundle-unpack.ts';

const NS = 'batch';
const BUILD_TIMEOUT_MS = 60 * 60_000;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from kubectl, read field by field
type Obj = any;

describe('BatchJobs and TaskJobs on the control plane', { skip: redisMissing, concurrency: false }, () => {
  let dir: string;
  let cluster: Cluster;
  let redis: RedisServer;
  let operator: OperatorProcess | undefined;
  let activatorPort: number;
  let kwokDir: string;
  let logFile: string;
  let cli: LocalEnv | undefined;
  const workers: ResultPromise[] = [];
  const workerLogs: string[] = [];
  const json = (args: string[]): Promise<Obj> => cluster.kubectl.json<Obj>(args);
  /** The CLI with environment `test` on the cluster's namespace. */
  const cortexCli = async (): Promise<LocalEnv> => {
    if (cli) return cli;
    cli = await localEnv();
    const configured = await cli.cortex([
      'env',
      'configure',
      'test',
      '--kubeconfig',
      cluster.kubeconfig,
      '--namespace',
      NS,
    ]);
    assert.equal(configured.code, 0, configured.stderr);
    return cli;
  };
  /** The pod of a job, once it runs. */
  const jobPod = (job: string): Promise<Obj> =>
    waitFor(`the pod of ${job}`, async () => {
      const list = await json(['get', 'pods', '-n', NS, '-l', `cortex.dev/job=${job}`]);
      return list.items.find((p: Obj) => p.status?.phase === 'Running');
    });
  const jobStatus = (kind: string, name: string, words: string[], timeoutMs = 60_000): Promise<Obj> =>
    waitFor(
      `${kind} ${name} to be ${words.join(' or ')}`,
      async () => {
        const o = await json(['get', kind, name, '-n', NS]);
        return words.includes(o.status?.status) && o;
      },
      timeoutMs,
    );

  before(
    async () => {
      let poolsFile: string;
      kwokDir = mkdtempSync(path.join(tmpdir(), 'cortex-batch-kwok-'));
      logFile = path.join(kwokDir, 'pods.log');
      writeFileSync(logFile, '');
      writeFileSync(path.join(kwokDir, 'kwok.yaml'), kwokJobConfig(NS, logFile));
      const kubeletPort = await freePort();
      ({ dir, poolsFile, cluster } = await startTestCluster('cortex-batch-test', NS, {
        extraArgs: {
          kwok: [
            `--server-address=127.0.0.1:${kubeletPort}`,
            `--node-port=${kubeletPort}`,
            `--config=${path.join(kwokDir, 'kwok.yaml')}`,
          ],
          // kwok nodes' InternalIP is 127.0.0.1 (their log server); their Hostname resolves nowhere
          'kube-apiserver': ['--kubelet-preferred-address-types=InternalIP'],
        },
      }));
      redis = await startRedis();
      activatorPort = await freePort();
      operator = await startOperator(cluster, dir, {
        nodePoolsFile: poolsFile,
        extraArgs: [
          ...['--queue-url', redis.url],
          ...['--activator-port', String(activatorPort), '--activator-bind-address', '127.0.0.1'],
        ],
      });
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await operator?.stop();
    if (process.exitCode || process.env.CORTEX_TEST_OPERATOR_LOG) {
      process.stderr.write(`--- operator log (last 60 lines) ---\n${operator?.logs.slice(-60).join('\n')}\n`);
      process.stderr.write(`--- workers log (last 40 lines) ---\n${workerLogs.slice(-40).join('\n')}\n`);
    }
    await cli?.cleanup();
    await redis?.close();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (kwokDir) rmSync(kwokDir, { recursive: true, force: true });
  });

  test('the operator enqueues, runs the Indexed Job of workers, and the status follows the queue', async () => {
    const project = path.join(dir, 'project');
    const out = path.join(dir, 'out');
    mkdirSync(project);
    mkdirSync(out);
    writeFileSync(path.join(project, 'handler.py'), RECORDING_HANDLER);
    const api = {
      apiVersion: 'cortex.dev/v1alpha1',
      kind: 'BatchAPI',
      metadata: { name: 'recorder', namespace: NS },
      spec: { predictor: { type: 'python', path: 'handler.py', image: 'fake.invalid/recorder:1' } },
    };
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
      const env: Record<string, string> = Object.fromEntries((c.env ?? []).map((e: Obj) => [e.name, String(e.value)]));
      const spec = JSON.parse(env.CORTEX_BATCH_WORKER) as Record<string, unknown>;
      assert.equal(spec.project_dir, PROJECT_DIR);
      env.CORTEX_BATCH_WORKER = JSON.stringify({ ...spec, project_dir: project });
      const proc = execa(process.execPath, [cortexBin, 'batch-worker'], {
        reject: false,
        all: true,
        buffer: false,
        env,
      });
      proc.all?.on('data', (d: Buffer) => workerLogs.push(...d.toString().split('\n').filter(Boolean)));
      workers.push(proc);
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
    const project = path.join(dir, 'task-project');
    mkdirSync(project);
    const output = path.join(dir, 'task-output.json');
    writeFileSync(path.join(project, 'task.py'), TASK);
    const api = {
      apiVersion: 'cortex.dev/v1alpha1',
      kind: 'TaskAPI',
      metadata: { name: 'trainer', namespace: NS },
      spec: { predictor: { type: 'python', path: 'task.py', image: 'fake.invalid/trainer:1', config: { a: 1 } } },
    };
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

  test('a task that raises: the TaskJob fails saying so, and cortex logs API JOB_ID shows why', async () => {
    const c = await cortexCli();
    const output = path.join(dir, 'never.json');
    const submitted = await c.cortex(['submit', 'trainer', '-', '-e', 'test'], {
      input: JSON.stringify({ config: { output, fail: 'no data for the model' } }),
    });
    assert.equal(submitted.code, 0, submitted.stderr);
    const id = /submitted job (trainer-\w+)/.exec(submitted.stdout)![1];
    const pod = await jobPod(id);
    const run = runJobPod(cluster.kubectl, pod, {
      project: path.join(dir, 'task-project'),
      envName: 'CORTEX_TASK',
      logFile,
    });
    assert.notEqual(await run.exited, 0);
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
    const c = await cortexCli();
    const submitted = await c.cortex(['submit', 'trainer', '-', '-e', 'test'], {
      input: JSON.stringify({ config: { output: path.join(dir, 'stopped.json'), sleep: 600 } }),
    });
    assert.equal(submitted.code, 0, submitted.stderr);
    const id = /submitted job (trainer-\w+)/.exec(submitted.stdout)![1];
    const pod = await jobPod(id);
    const project = path.join(dir, 'task-project');
    const run = runJobPod(cluster.kubectl, pod, { project, envName: 'CORTEX_TASK', logFile });
    await waitFor('the task started', async () => run.lines.some((l) => l.includes('task for')), 60_000);
    await jobStatus('taskjob', id, ['running']);
    const logs = await c.cortex(['logs', 'trainer', id, '-e', 'test']);
    assert.equal(logs.code, 0, logs.stderr);
    const printed = `"message":"task for ${path.join(dir, 'stopped.json')}"`; // print() goes through the JSON log
    const line = logs.stdout.split('\n').find((l) => l.includes(printed));
    assert.ok(line?.startsWith(`[${pod.metadata.name}] {`), logs.stdout);

    const deleted = await c.cortex(['delete', 'trainer', id, '-e', 'test']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, new RegExp(`stopping job ${id}`));
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

  test('the activator serves the endpoints: POST creates the job, GET reads it, DELETE sets spec.stop', async () => {
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

  test('cortex deploy -e of a BatchAPI from a bundle, submit, run from the unpacked bundle, delete', async () => {
    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'cortex-user' },
        rules: mergeRules(cliUserRules),
      }),
    });
    await cluster.kubectl(['create', 'rolebinding', 'bob-cortex', '-n', NS, '--clusterrole=cortex-user', '--user=bob']);
    const cli = await localEnv();
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
    try {
      const kubeconfig = kubeconfigAs(cluster, 'bob', path.join(dir, 'bob.kubeconfig'));
      const configured = await cli.cortex(['env', 'configure', 'test', '--kubeconfig', kubeconfig, '--namespace', NS]);
      assert.equal(configured.code, 0, configured.stderr);

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
        const c = pod.spec.containers.find((x: Obj) => x.name === 'api');
        const env: Record<string, string> = Object.fromEntries(
          (c.env ?? []).map((e: Obj) => [e.name, String(e.value)]),
        );
        const spec = JSON.parse(env.CORTEX_BATCH_WORKER) as Record<string, unknown>;
        env.CORTEX_BATCH_WORKER = JSON.stringify({ ...spec, project_dir: unpacked });
        const proc = execa(process.execPath, [cortexBin, 'batch-worker'], {
          reject: false,
          all: true,
          buffer: false,
          env,
        });
        proc.all?.on('data', (d: Buffer) => workerLogs.push(...d.toString().split('\n').filter(Boolean)));
        workers.push(proc);
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
      // the earlier tests' job APIs (applied with kubectl) are still listed; counter and web are not
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

/** Writes config to config["output"]; raises config["fail"]; sleeps config["sleep"] seconds first. */
const TASK = `import json, time

class Task:
    def __call__(self, config):
        print(f"task for {config['output']}", flush=True)
        if config.get("fail"):
            raise ValueError(config["fail"])
        time.sleep(config.get("sleep", 0))
        with open(config["output"], "w") as f:
            json.dump(config, f)
`;
