// The RealtimeAPI is what the replicas run, on the real control plane: an image-only API
// (predictor.image, no bundle, no cortex.yaml in the project) is applied by hand, then each
// runtime field is changed with a patch. After every patch the test takes a pod of the new
// template as the API server has it (container command and env), starts that command as a local
// `cortex serve` bound to the pod's loopback IP (LOOPBACK_POD_CIDR), with the pod's /mnt/project
// mapped to a folder on disk standing in for the image, and checks the replica serves with the
// new value. The operator runs as a local process impersonating its ServiceAccount.
// Not part of `npm test`: `npm run test:cluster`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { LOOPBACK_POD_CIDR, type Cluster } from '../cluster/cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import { startTestCluster } from '../helpers/test-cluster.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { cortexBin } from '../helpers/serve.ts';
import { loopbackOnly } from '../autoscaling/runtimes.ts';
import { PROJECT_DIR, RUNTIME_PORT, SPEC_HASH_ANNOTATION } from '../../operator/reconcilers/deployment.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const PROJECT = path.join(here, 'fixtures', 'spec-to-runtime');
const BUILD_TIMEOUT_MS = 60 * 60_000;
const NS = 'handoff';
const API = 'echo';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from kubectl, read field by field
type Obj = any;

interface Replica {
  pod: string;
  url: string;
  proc: ResultPromise;
  log: string[];
}

describe('the replicas run the RealtimeAPI the operator reconciled, not a cortex.yaml', { concurrency: false }, () => {
  let dir: string;
  let cluster: Cluster;
  let operator: OperatorProcess | undefined;
  let replica: Replica | undefined;
  const replicaLogs: string[] = [];

  const k = (args: string[], input?: string) => cluster.kubectl(args, { input });
  const json = (args: string[]): Promise<Obj> => cluster.kubectl.json<Obj>(args);
  const templateHash = async (): Promise<string | undefined> =>
    (await json(['get', 'deployment', API, '-n', NS, '-o', 'json']).catch(() => undefined))?.spec.template.metadata
      .annotations[SPEC_HASH_ANNOTATION];
  const patch = (spec: Obj) =>
    k(['patch', 'realtimeapi', API, '-n', NS, '--type=merge', '-p', JSON.stringify({ spec })]);

  /** Waits for the operator to apply a template other than `previous` and for a Running pod of it. */
  async function podOfNewTemplate(previous: string | undefined): Promise<Obj> {
    const hash = await waitFor(
      'the operator to apply a new pod template',
      async () => {
        const h = await templateHash();
        return h !== undefined && h !== previous && h;
      },
      30_000,
    );
    return waitFor(
      `a Running pod of template ${hash}`,
      async () => {
        const pods = await json(['get', 'pods', '-n', NS, '-l', `cortex.dev/api=${API}`, '-o', 'json']);
        return pods.items.find(
          (p: Obj) =>
            !p.metadata.deletionTimestamp &&
            p.metadata.annotations?.[SPEC_HASH_ANNOTATION] === hash &&
            p.status?.phase === 'Running' &&
            p.status.podIP,
        );
      },
      60_000,
    );
  }

  /** Runs the pod's container as the kubelet would: its command and env, /mnt/project from PROJECT. */
  async function startReplica(pod: Obj): Promise<Replica> {
    await stopReplica();
    const ip = loopbackOnly(pod.status.podIP);
    const c = pod.spec.containers.find((x: Obj) => x.name === 'api');
    const [bin, ...args] = c.command as string[];
    assert.equal(bin, 'cortex');
    assert.ok(args.includes(PROJECT_DIR), `the command serves ${PROJECT_DIR}: ${args.join(' ')}`);
    const local = args.map((a) => (a === PROJECT_DIR ? PROJECT : a));
    const env: Record<string, string> = Object.fromEntries((c.env ?? []).map((e: Obj) => [e.name, String(e.value)]));
    env.CORTEX_TERMINATION_LOG = path.join(dir, `termination-log-${pod.metadata.name}`);
    const log: string[] = [];
    const proc = execa(process.execPath, [cortexBin, ...local, '--host', ip, '--grace-period', '1'], {
      reject: false,
      all: true,
      buffer: false,
      env,
    });
    proc.all?.on('data', (chunk: Buffer) => {
      const lines = chunk.toString().split('\n').filter(Boolean);
      log.push(...lines);
      replicaLogs.push(...lines.map((l) => `[${pod.metadata.name}] ${l}`));
    });
    const url = `http://${ip}:${RUNTIME_PORT}`;
    await waitFor(
      `the replica of ${pod.metadata.name} to be ready`,
      async () => {
        if (proc.exitCode !== null) throw new Error(`cortex serve exited ${proc.exitCode}:\n${log.join('\n')}`);
        try {
          const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
          await res.arrayBuffer();
          return res.ok;
        } catch {
          return false;
        }
      },
      60_000,
    );
    replica = { pod: pod.metadata.name, url, proc, log };
    return replica;
  }

  async function stopReplica(): Promise<void> {
    const r = replica;
    replica = undefined;
    if (!r) return;
    r.proc.kill('SIGTERM');
    await r.proc.catch(() => undefined);
  }

  /** `n` predictions at once, each sleeping `sleepMs`: their status codes and bodies. */
  async function predictions(r: Replica, n: number, sleepMs = 0): Promise<{ status: number; body: Obj }[]> {
    return Promise.all(
      Array.from({ length: n }, async () => {
        const res = await fetch(`${r.url}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ sleep_ms: sleepMs }),
          signal: AbortSignal.timeout(10_000),
        });
        return { status: res.status, body: await res.json() };
      }),
    );
  }
  const summary = async (r: Replica): Promise<Obj> => (await fetch(`${r.url}/`)).json();

  before(
    async () => {
      let poolsFile: string;
      ({ dir, poolsFile, cluster } = await startTestCluster('cortex-handoff-test', NS, { podCidr: LOOPBACK_POD_CIDR }));
      operator = await startOperator(cluster, dir, { nodePoolsFile: poolsFile });
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    await stopReplica();
    await operator?.stop();
    if (process.exitCode || process.env.CORTEX_TEST_OPERATOR_LOG) {
      process.stderr.write(`--- operator log (last 60 lines) ---\n${operator?.logs.slice(-60).join('\n')}\n`);
      process.stderr.write(`--- replicas log (last 40 lines) ---\n${replicaLogs.slice(-40).join('\n')}\n`);
    }
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test(
    'an image-only API serves, and every runtime field patched reaches the replica',
    { timeout: 180_000 },
    async () => {
      assert.ok(!existsSync(path.join(PROJECT, 'cortex.yaml')), 'the image holds no cortex.yaml');
      await k(
        ['apply', '--server-side', '--field-manager=test', '-f', '-'],
        JSON.stringify({
          apiVersion: 'cortex.dev/v1alpha1',
          kind: 'RealtimeAPI',
          metadata: { name: API, namespace: NS },
          spec: {
            predictor: { type: 'typescript', path: 'predictor.ts', image: 'fake.invalid/echo:1', config: { v: 1 } },
            compute: { cpu: '100m' },
            autoscaling: { minReplicas: 1, maxReplicas: 2 },
          },
        }),
      );
      let hash: string | undefined;
      const next = async () => {
        const pod = await podOfNewTemplate(hash);
        hash = pod.metadata.annotations[SPEC_HASH_ANNOTATION];
        return startReplica(pod);
      };

      // as applied: config, one worker of one thread, info, no batching, maxReplicaConcurrency 1024
      let r = await next();
      let [one] = await predictions(r, 1);
      assert.deepEqual(one, { status: 200, body: { config: { v: 1 }, peak: 1, batch: 0 } });
      assert.deepEqual((await summary(r)).workers, { ready: 1, total: 1 });

      // predictor.config
      await patch({ predictor: { config: { v: 2, model: 's3://bucket/m' } } });
      r = await next();
      [one] = await predictions(r, 1);
      assert.deepEqual(one.body.config, { v: 2, model: 's3://bucket/m' });

      // processesPerReplica, threadsPerProcess: 2 workers (GET /) of 3 concurrent calls each
      await patch({ predictor: { processesPerReplica: 2, threadsPerProcess: 3 } });
      r = await next();
      assert.deepEqual((await summary(r)).workers, { ready: 2, total: 2 });
      const six = await predictions(r, 6, 400);
      assert.deepEqual(
        six.map((p) => p.status),
        [200, 200, 200, 200, 200, 200],
      );
      assert.equal(Math.max(...six.map((p) => p.body.peak)), 3, 'three calls at once in a worker');
      assert.ok(!r.log.some((l) => l.includes('predict called')), 'info: the debug line is not logged');

      // logLevel
      await patch({ predictor: { logLevel: 'debug' } });
      r = await next();
      await predictions(r, 1);
      await waitFor('the debug line', async () => r.log.some((l) => l.includes('predict called')), 5_000);

      // autoscaling.maxReplicaConcurrency: 2 in flight, the rest answered 503
      await patch({ autoscaling: { maxReplicaConcurrency: 2 } });
      r = await next();
      const four = await predictions(r, 4, 500);
      assert.deepEqual(four.map((p) => p.status).sort(), [200, 200, 503, 503]);

      // serverSideBatching: two requests at once are one predict call of two payloads
      await patch({ predictor: { serverSideBatching: { maxBatchSize: 2, batchInterval: '2s' } } });
      r = await next();
      const two = await predictions(r, 2);
      assert.deepEqual(
        two.map((p) => [p.status, p.body.batch]),
        [
          [200, 2],
          [200, 2],
        ],
      );
      const metrics = await (await fetch(`${r.url}/metrics`)).text();
      assert.match(metrics, /^cortex_batch_size_count\{[^}]*\} 1$/m);
      // everything patched before is still what runs
      assert.deepEqual(two[0].body.config, { v: 2, model: 's3://bucket/m' });
      assert.deepEqual((await summary(r)).workers, { ready: 2, total: 2 });

      // an autoscaling field the runtime does not read changes no pod
      await patch({ autoscaling: { maxReplicas: 3 } });
      await waitFor(
        'the HPA to get maxReplicas 3',
        async () => (await json(['get', 'hpa', API, '-n', NS, '-o', 'json'])).spec.maxReplicas === 3,
        30_000,
      );
      assert.equal(await templateHash(), hash);
    },
  );

  test('a spec too large for the replicas is reported in the status', async () => {
    await k(
      ['apply', '--server-side', '--field-manager=test', '-f', '-'],
      JSON.stringify({
        apiVersion: 'cortex.dev/v1alpha1',
        kind: 'RealtimeAPI',
        metadata: { name: 'huge', namespace: NS },
        spec: {
          predictor: {
            type: 'typescript',
            path: 'predictor.ts',
            image: 'fake.invalid/echo:1',
            config: { blob: 'x'.repeat(100 * 1024) },
          },
        },
      }),
    );
    const status = await waitFor(
      'the status of huge',
      async () => (await json(['get', 'realtimeapi', 'huge', '-n', NS, '-o', 'json'])).status?.message,
      30_000,
    );
    assert.match(status, /predictor\.config: makes the settings handed to every replica \d+ KiB as JSON/);
    await assert.rejects(k(['get', 'deployment', 'huge', '-n', NS]), /not found/i);
  });
});
