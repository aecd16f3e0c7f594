// npm run bench:dependency-cache [-- --json]
//
// What the node's dependency cache saves a replica, on the real test control plane (test/cluster)
// with real `cortex serve` replicas: the operator runs as a local process (its metrics API and
// activator on loopback), and every Running pod's own command and env run as a local process on
// its loopback pod IP, its hostPath volumes in a folder per fake node (test/helpers/pod-process.ts).
// The API (bench/dependency-cache/project) lists scikit-learn in requirements.txt.
//   1. first replica on an empty node: dependencies.sh-free start, pip installs scikit-learn,
//      numpy and scipy into the node's cache (what every replica paid before the cache: the
//      alternative, measured in the same run);
//   2. second replica on the same node (kwok-cpu-1 is cordoned): the cache has it;
//   3. wake from zero: the API goes idle to zero replicas, then a request through the activator
//      is held until a new replica is ready and answers: the request's whole time.
// Times are from process start to the first 200 from /readyz (pod scheduling not included:
// kwok marks pods Running at once). See docs/cluster.md ("Dependencies installed once per node").
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { LOOPBACK_POD_CIDR } from '../test/cluster/cluster.ts';
import { freePort } from '../test/cluster/ports.ts';
import { PodRuntimes, viaActivator } from '../test/autoscaling/runtimes.ts';
import { startOperator } from '../test/helpers/operator.ts';
import { startTestCluster } from '../test/helpers/test-cluster.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { KubeClient } from '../operator/kube/client.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const PROJECT = path.join(here, 'dependency-cache', 'project');
const NS = 'deps';
const API = 'sklearn';
const IDLE = '10s';
const ACTIVATOR_ADDRESS = '192.0.2.10';

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false } } });
const log = (line: string) => process.stderr.write(`${line}\n`);

function realtimeApi(autoscaling: object): string {
  return JSON.stringify({
    apiVersion: 'cortex.dev/v1alpha1',
    kind: 'RealtimeAPI',
    metadata: { name: API, namespace: NS },
    spec: {
      predictor: { type: 'python', path: 'predictor.py', image: 'fake.invalid/sklearn:1' },
      compute: { cpu: '100m' },
      autoscaling,
    },
  });
}

async function main(): Promise<void> {
  log('starting the test control plane');
  const { dir, poolsFile, cluster } = await startTestCluster('cortex-dep-cache-bench', NS, {
    podCidr: LOOPBACK_POD_CIDR,
  });
  let runtimes: PodRuntimes | undefined;
  let stopOperator: (() => Promise<void>) | undefined;
  try {
    // one node, as "the second replica on the same node" says
    await cluster.kubectl(['cordon', 'kwok-cpu-1']);
    const activatorPort = await freePort();
    const operator = await startOperator(cluster, dir, {
      nodePoolsFile: poolsFile,
      extraArgs: [
        '--metrics-api',
        '--metrics-api-port',
        String(await freePort()),
        '--metrics-api-bind-address',
        '127.0.0.1',
        '--activator-port',
        String(activatorPort),
        '--activator-bind-address',
        '127.0.0.1',
        '--activator-address',
        ACTIVATOR_ADDRESS,
        '--activator-timeout',
        '300s',
      ],
    });
    stopOperator = () => operator.stop();
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    const rt = new PodRuntimes({
      client: new KubeClient(kc),
      namespace: NS,
      api: API,
      project: PROJECT,
      tmpDir: dir,
      fromPod: true,
    });
    runtimes = rt;
    await rt.start();
    const apply = (autoscaling: object) =>
      cluster.kubectl(['apply', '--server-side', '--field-manager=bench', '-f', '-'], {
        input: realtimeApi(autoscaling),
      });
    const readyCount = (n: number, what: string, ms = 15 * 60_000) =>
      waitFor(what, async () => rt.readyTimes.length >= n, ms).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\n${rt.log.slice(-30).join('\n')}`);
      });

    log('1. the first replica, on an empty node: pip installs scikit-learn');
    await apply({ minReplicas: 1, maxReplicas: 2 });
    await readyCount(1, 'the first replica to be ready');
    log('2. a second replica on the same node');
    await apply({ minReplicas: 2, maxReplicas: 2 });
    await readyCount(2, 'the second replica to be ready', 5 * 60_000);

    log(`3. idle for ${IDLE}, to zero, then a request wakes the API`);
    await apply({ minReplicas: 0, maxReplicas: 2, scaleToZeroAfter: IDLE });
    await waitFor('no replica left', async () => rt.pods().length === 0, 5 * 60_000);
    const wake = await viaActivator(activatorPort, `${API}.${NS}.svc.cluster.local`, { features: [1, 1, 0, 0] });
    if (wake.status !== 200) throw new Error(`the waking request got ${wake.status}: ${wake.body}`);
    await readyCount(3, "the woken replica's readiness poll", 30_000);
    const [first, second, woken] = rt.readyTimes;
    const installs = rt.log.filter((l) => l.includes('installing requirements.txt into a cached virtualenv')).length;
    const result = {
      measured: new Date().toISOString(),
      requirements: 'scikit-learn==1.7.2 (+ numpy, scipy, joblib, threadpoolctl)',
      firstReplicaReadyS: first.ms / 1000,
      secondReplicaReadyS: second.ms / 1000,
      wakeReplicaReadyS: woken.ms / 1000,
      wakeRequestS: wake.ms / 1000,
      sameNode: new Set(rt.readyTimes.map((r) => r.node)).size === 1,
      pipInstalls: installs,
      speedup: first.ms / second.ms,
    };
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      const s = (x: number) => `${x.toFixed(1)} s`;
      process.stdout.write(
        [
          `dependency cache, ${result.requirements}, one node (${first.node}); process start -> ready:`,
          `  first replica (empty cache: pip install)   ${s(result.firstReplicaReadyS)}`,
          `  second replica (same node, cache hit)      ${s(result.secondReplicaReadyS)}` +
            `   ${result.speedup.toFixed(1)}x faster`,
          `  wake from zero: the replica                ${s(result.wakeReplicaReadyS)}`,
          `  wake from zero: the held request, in all   ${s(result.wakeRequestS)}`,
          `  pip installs in the run: ${installs} (expected 1)`,
          '',
        ].join('\n'),
      );
    }
  } finally {
    await runtimes?.stop();
    await stopOperator?.();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
