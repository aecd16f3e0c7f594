// The setup of the BatchJob/TaskJob cluster suites (test/batch/batchjob.cluster-test.ts and
// job-cli.cluster-test.ts): kwok with the job stages of job-pods.ts (pods only become Running;
// the test is their kubelet) and the log file it serves, a real control plane, a real
// redis-server as the operator's queue, and the operator as a local process with --queue-url and
// its activator on loopback. Also what both suites deploy: the `recorder` BatchAPI (RECORDING_HANDLER)
// and the `trainer` TaskAPI (TASK), each with its project folder here.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { Cluster } from '../cluster/cluster.ts';
import { CONTAINER_NAME, PROJECT_DIR } from '../../operator/reconcilers/deployment.ts';
import { RECORDING_HANDLER } from './batch-job.ts';
import { kwokJobConfig } from './job-pods.ts';
import { clusterEnv, freePort, type LocalEnv } from './local.ts';
import { startOperator, type OperatorProcess } from './operator.ts';
import { startRedis, type RedisServer } from './redis-server.ts';
import { cortexBin } from './serve.ts';
import { startTestCluster } from './test-cluster.ts';
import { waitFor } from './wait.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from kubectl, read field by field
type Obj = any;

export interface JobCluster {
  cluster: Cluster;
  /** The suite's folder (projects, outputs), removed by stop(). */
  dir: string;
  namespace: string;
  redis: RedisServer;
  operator: OperatorProcess;
  activatorPort: number;
  /** The log file kwok serves for the namespace's `api` containers (runJobPod's logFile). */
  logFile: string;
  json(args: string[]): Promise<Obj>;
  /** The CLI with environment `test` on the namespace (one, configured on first use). */
  cortexCli(): Promise<LocalEnv>;
  /** The Running pod of a job. */
  jobPod(job: string): Promise<Obj>;
  /** Waits for the job resource's status.status to be one of `words`; returns the resource. */
  jobStatus(kind: string, name: string, words: string[], timeoutMs?: number): Promise<Obj>;
  /** Runs a BatchJob pod's `cortex batch-worker` here with `project` as /mnt/project (into workers). */
  startWorker(pod: Obj, project: string): void;
  workers: ResultPromise[];
  workerLogs: string[];
  /** Kills the workers and stops everything (the operator's and workers' logs printed on failure). */
  stop(): Promise<void>;
}

/** Starts the suite's cluster, queue and operator; on a failure stops what had started. */
export async function startJobCluster(prefix: string, namespace: string): Promise<JobCluster> {
  const kwokDir = mkdtempSync(path.join(tmpdir(), `${prefix}-kwok-`));
  const logFile = path.join(kwokDir, 'pods.log');
  let cli: LocalEnv | undefined;
  const started: Omit<JobCluster, 'cluster' | 'dir' | 'redis' | 'operator' | 'activatorPort'> = {
    namespace,
    logFile,
    workers: [],
    workerLogs: [],
    json: (args) => ctx.cluster.kubectl.json<Obj>(args),
    async cortexCli() {
      cli ??= await clusterEnv(ctx.cluster.kubeconfig, namespace);
      return cli;
    },
    jobPod: (job) =>
      waitFor(`the pod of ${job}`, async () => {
        const list = await ctx.json(['get', 'pods', '-n', namespace, '-l', `cortex.dev/job=${job}`]);
        return list.items.find((p: Obj) => p.status?.phase === 'Running');
      }),
    jobStatus: (kind, name, words, timeoutMs = 60_000) =>
      waitFor(
        `${kind} ${name} to be ${words.join(' or ')}`,
        async () => {
          const o = await ctx.json(['get', kind, name, '-n', namespace]);
          return words.includes(o.status?.status) && o;
        },
        timeoutMs,
      ),
    startWorker(pod, project) {
      const c = pod.spec.containers.find((x: Obj) => x.name === CONTAINER_NAME);
      const env: Record<string, string> = Object.fromEntries((c.env ?? []).map((e: Obj) => [e.name, String(e.value)]));
      const spec = JSON.parse(env.CORTEX_BATCH_WORKER) as Record<string, unknown>;
      if (spec.project_dir !== PROJECT_DIR) throw new Error(`CORTEX_BATCH_WORKER.project_dir is ${spec.project_dir}`);
      env.CORTEX_BATCH_WORKER = JSON.stringify({ ...spec, project_dir: project });
      const proc = execa(process.execPath, [cortexBin, 'batch-worker'], {
        reject: false,
        all: true,
        buffer: false,
        env,
      });
      proc.all?.on('data', (d: Buffer) => ctx.workerLogs.push(...d.toString().split('\n').filter(Boolean)));
      ctx.workers.push(proc);
    },
    async stop() {
      for (const w of ctx.workers) w.kill('SIGKILL');
      await ctx.operator?.stop();
      if (process.exitCode || process.env.CORTEX_TEST_OPERATOR_LOG) {
        process.stderr.write(`--- operator log (last 60 lines) ---\n${ctx.operator?.logs.slice(-60).join('\n')}\n`);
        process.stderr.write(`--- workers log (last 40 lines) ---\n${ctx.workerLogs.slice(-40).join('\n')}\n`);
      }
      await cli?.cleanup();
      await ctx.redis?.close();
      await ctx.cluster?.stop();
      if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
      rmSync(kwokDir, { recursive: true, force: true });
    },
  };
  // the rest is set below, as each part starts (stop() stops those that did)
  const ctx = started as JobCluster;
  try {
    writeFileSync(logFile, '');
    writeFileSync(path.join(kwokDir, 'kwok.yaml'), kwokJobConfig(namespace, logFile));
    const kubeletPort = await freePort();
    const test = await startTestCluster(prefix, namespace, {
      extraArgs: {
        kwok: [
          `--server-address=127.0.0.1:${kubeletPort}`,
          `--node-port=${kubeletPort}`,
          `--config=${path.join(kwokDir, 'kwok.yaml')}`,
        ],
        // kwok nodes' InternalIP is 127.0.0.1 (their log server); their Hostname resolves nowhere
        'kube-apiserver': ['--kubelet-preferred-address-types=InternalIP'],
      },
    });
    Object.assign(ctx, { dir: test.dir, cluster: test.cluster });
    ctx.redis = await startRedis();
    ctx.activatorPort = await freePort();
    ctx.operator = await startOperator(ctx.cluster, ctx.dir, {
      nodePoolsFile: test.poolsFile,
      extraArgs: [
        ...['--queue-url', ctx.redis.url],
        ...['--activator-port', String(ctx.activatorPort), '--activator-bind-address', '127.0.0.1'],
      ],
    });
    return ctx;
  } catch (error) {
    await ctx.stop();
    throw error;
  }
}

/** Writes config to config["output"]; raises config["fail"]; sleeps config["sleep"] seconds first. */
export const TASK = `import json, time

class Task:
    def __call__(self, config):
        print(f"task for {config['output']}", flush=True)
        if config.get("fail"):
            raise ValueError(config["fail"])
        time.sleep(config.get("sleep", 0))
        with open(config["output"], "w") as f:
            json.dump(config, f)
`;

/** The BatchAPI `recorder` (image-only; its project: RECORDING_HANDLER as handler.py). */
export const recorderApi = (namespace: string) => ({
  apiVersion: 'cortex.dev/v1alpha1',
  kind: 'BatchAPI',
  metadata: { name: 'recorder', namespace },
  spec: { predictor: { type: 'python', path: 'handler.py', image: 'fake.invalid/recorder:1' } },
});

/** The TaskAPI `trainer` (image-only, config {a: 1}; its project: TASK as task.py). */
export const trainerApi = (namespace: string) => ({
  apiVersion: 'cortex.dev/v1alpha1',
  kind: 'TaskAPI',
  metadata: { name: 'trainer', namespace },
  spec: { predictor: { type: 'python', path: 'task.py', image: 'fake.invalid/trainer:1', config: { a: 1 } } },
});

/** Each job API's project folder (under the suite's dir), its source file and that file's text. */
const PROJECTS = {
  recorder: { folder: 'project', file: 'handler.py', source: RECORDING_HANDLER },
  trainer: { folder: 'task-project', file: 'task.py', source: TASK },
};
type JobApi = keyof typeof PROJECTS;

/** The folder of the job API's project (the workers' and tasks' /mnt/project). */
export const jobProject = (ctx: JobCluster, api: JobApi): string => path.join(ctx.dir, PROJECTS[api].folder);

/** Writes the job API's project folder; returns it. */
export function writeJobProject(ctx: JobCluster, api: JobApi): string {
  const { file, source } = PROJECTS[api];
  mkdirSync(jobProject(ctx, api));
  writeFileSync(path.join(jobProject(ctx, api), file), source);
  return jobProject(ctx, api);
}

/**
 * Writes both projects and applies recorder and trainer with kubectl, then waits for the activator
 * to serve both (status.endpoint): the operator has seen them, so a job submitted next finds its API.
 */
export async function deployJobApis(ctx: JobCluster): Promise<void> {
  writeJobProject(ctx, 'recorder');
  writeJobProject(ctx, 'trainer');
  const items = [recorderApi(ctx.namespace), trainerApi(ctx.namespace)];
  await ctx.cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ kind: 'List', apiVersion: 'v1', items }) });
  for (const [kind, name] of [
    ['batchapi', 'recorder'],
    ['taskapi', 'trainer'],
  ]) {
    await waitFor(`${kind} ${name}'s status.endpoint`, async () => {
      const o = await ctx.json(['get', kind, name, '-n', ctx.namespace, '-o', 'json']);
      return o.status?.endpoint === `/${name}`;
    });
  }
}
