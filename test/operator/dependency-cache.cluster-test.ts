// Dependencies in the cluster, on the real control plane: the operator runs as a local process,
// and each Running pod's own command and env run as a real `cortex serve` on its loopback pod IP,
// its hostPath volumes in one folder per fake node (test/helpers/pod-process.ts).
//   - The node's dependency cache (the operator's default --dependency-cache-dir): replicas on one
//     node install requirements.txt once between them; a replica on another node installs its own.
//   - A dependencies.sh that fails stops the replica, and its last line reaches the RealtimeAPI's
//     status. With no kubelet here, the test does the kubelet's part: it reports the process's
//     exit and termination message in the pod's status, as the kubelet would.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { LOOPBACK_POD_CIDR, type Cluster } from '../cluster/cluster.ts';
import { PodRuntimes, loopbackOnly } from '../autoscaling/runtimes.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { startTestCluster } from '../helpers/test-cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import { KubeClient } from '../../operator/kube/client.ts';
import { RUNTIME_PORT } from '../../operator/reconcilers/deployment.ts';
import { DEFAULT_DEPENDENCY_CACHE_DIR } from '../../operator/flags.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUILD_TIMEOUT_MS = 60 * 60_000;
const NS = 'deps';
const INSTALLING = 'installing requirements.txt into a cached virtualenv';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from kubectl, read field by field
type Obj = any;

function realtimeApi(name: string, autoscaling: object): string {
  return JSON.stringify({
    apiVersion: 'cortex.dev/v1alpha1',
    kind: 'RealtimeAPI',
    metadata: { name, namespace: NS },
    spec: {
      predictor: { type: 'python', path: 'predictor.py', image: `fake.invalid/${name}:1` },
      compute: { cpu: '100m' },
      autoscaling,
    },
  });
}

describe('dependencies in the cluster', { concurrency: false }, () => {
  let dir: string;
  let cluster: Cluster;
  let client: KubeClient;
  let operator: OperatorProcess | undefined;
  const runtimes: PodRuntimes[] = [];

  const k = (args: string[], input?: string) => cluster.kubectl(args, { input });
  const json = (args: string[]): Promise<Obj> => cluster.kubectl.json<Obj>(args);
  const apply = (name: string, autoscaling: object) =>
    k(['apply', '--server-side', '--field-manager=test', '-f', '-'], realtimeApi(name, autoscaling));
  async function serveApi(api: string, fixture: string): Promise<PodRuntimes> {
    const rt = new PodRuntimes({
      client,
      namespace: NS,
      api,
      project: path.join(here, 'fixtures', fixture),
      tmpDir: dir,
      fromPod: true,
    });
    runtimes.push(rt);
    await rt.start();
    return rt;
  }
  const venvsOn = (node: string) => {
    const venvs = path.join(dir, 'nodes', node, DEFAULT_DEPENDENCY_CACHE_DIR, 'venvs');
    return existsSync(venvs) ? readdirSync(venvs) : [];
  };

  before(
    async () => {
      const started = await startTestCluster('cortex-deps-test', NS, { podCidr: LOOPBACK_POD_CIDR });
      ({ dir, cluster } = started);
      operator = await startOperator(cluster, dir, { nodePoolsFile: started.poolsFile });
      const kc = new KubeConfig();
      kc.loadFromFile(cluster.kubeconfig);
      client = new KubeClient(kc);
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    await Promise.all(runtimes.map((r) => r.stop()));
    await operator?.stop();
    if (process.exitCode || process.env.CORTEX_TEST_OPERATOR_LOG) {
      process.stderr.write(`--- operator log (last 80 lines) ---\n${operator?.logs.slice(-80).join('\n')}\n`);
      for (const r of runtimes) process.stderr.write(`--- runtimes ---\n${r.log.slice(-40).join('\n')}\n`);
    }
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test(
    "replicas on one node install requirements.txt once, in the node's cache; another node installs its own",
    { timeout: 10 * 60_000 },
    async () => {
      await k(['cordon', 'kwok-cpu-1']);
      const rt = await serveApi('cow', 'dependency-cache');
      await apply('cow', { initReplicas: 2, minReplicas: 2, maxReplicas: 3 });
      await waitFor('two ready replicas', async () => rt.readyTimes.length === 2, 5 * 60_000);
      assert.deepEqual(
        rt.readyTimes.map((r) => r.node),
        ['kwok-cpu-0', 'kwok-cpu-0'],
      );
      const installs = () => rt.log.filter((l) => l.includes(INSTALLING));
      assert.equal(installs().length, 1, `one pip install between them:\n${rt.log.join('\n')}`);
      assert.ok(
        rt.log.some((l) => l.includes('reusing cached dependencies') || l.includes('is installing the same')),
        'the other replica waited for it or found it done',
      );
      const [key] = venvsOn('kwok-cpu-0');
      assert.match(key ?? '', /^[0-9a-f]{16}$/, 'one complete virtualenv, nothing left half built or locked');
      assert.deepEqual(venvsOn('kwok-cpu-0'), [key]);

      // the replicas run in it: the package only requirements.txt provides answers
      const [ip] = rt.readyIps();
      const res = await fetch(`http://${loopbackOnly(ip)}:${RUNTIME_PORT}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"text": "cached"}',
      });
      assert.equal(res.status, 200);
      assert.match(((await res.json()) as { said: string }).said, /cached/);

      // a third replica on the other node: a cache of its own
      await k(['uncordon', 'kwok-cpu-1']);
      await k(['cordon', 'kwok-cpu-0']);
      await apply('cow', { initReplicas: 3, minReplicas: 3, maxReplicas: 3 });
      await waitFor('a third ready replica', async () => rt.readyTimes.length === 3, 5 * 60_000);
      assert.equal(rt.readyTimes[2].node, 'kwok-cpu-1');
      assert.equal(installs().length, 2, 'the new node installed its own');
      assert.deepEqual(venvsOn('kwok-cpu-1'), [key], 'the same requirements, the same key');
      await k(['uncordon', 'kwok-cpu-0']);
    },
  );

  test(
    'a failing dependencies.sh stops the replica and its last line reaches the status',
    { timeout: 5 * 60_000 },
    async () => {
      const rt = await serveApi('broken', 'failing-dependencies-sh');
      await apply('broken', { minReplicas: 1, maxReplicas: 1 });
      const pod: Obj = await waitFor(
        'the replica of broken to have run',
        async () => {
          const pods = await json(['get', 'pods', '-n', NS, '-l', 'cortex.dev/api=broken', '-o', 'json']);
          return rt.started.length > 0 && pods.items[0];
        },
        60_000,
      );
      const name: string = pod.metadata.name;
      const termination = path.join(dir, `termination-log-${name}`);
      await waitFor(
        'the replica to exit',
        async () => rt.log.some((l) => l.includes('exited unexpectedly: 1')),
        60_000,
      );
      const message = readFileSync(termination, 'utf8');
      assert.equal(
        message,
        'dependencies.sh failed with exit code 100; its last output: E: Unable to locate package libfoo',
      );
      assert.ok(rt.log.some((l) => l.includes('"source":"dependencies.sh"') && l.includes('installing libfoo')));

      // the kubelet's part: the container exited 1 with that message, and is restarted with back-off
      const status = {
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'ContainersNotReady',
            lastTransitionTime: new Date().toISOString(),
          },
        ],
        containerStatuses: [
          {
            name: 'api',
            image: pod.spec.containers[0].image,
            imageID: '',
            ready: false,
            restartCount: 1,
            started: false,
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s restarting failed container' } },
            lastState: { terminated: { exitCode: 1, reason: 'Error', message } },
          },
        ],
      };
      await k([
        'patch',
        'pod',
        name,
        '-n',
        NS,
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({ status }),
      ]);
      const r: Obj = await waitFor(
        'the status to report the failed dependencies.sh',
        async () => {
          const x = await json(['get', 'realtimeapi', 'broken', '-n', NS, '-o', 'json']);
          const ready = x.status?.conditions?.find((c: Obj) => c.type === 'Ready');
          return ready?.reason === 'ContainerFailing' && x;
        },
        60_000,
      );
      const ready = r.status.conditions.find((c: Obj) => c.type === 'Ready');
      assert.equal(r.status.status, 'error');
      assert.match(ready.message, new RegExp(`container api of pod ${name} keeps failing: dependencies\\.sh failed`));
      assert.match(ready.message, /E: Unable to locate package libfoo/);
    },
  );
});
