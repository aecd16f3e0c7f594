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
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { viaActivator } from '../test/autoscaling/runtimes.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { readyCount, startClusterReplicas, type ClusterReplicas } from './cluster-replicas.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const PROJECT = path.join(here, 'dependency-cache', 'project');
const NS = 'deps';
const API = 'sklearn';
const IDLE = '10s';

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false } } });
const log = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  log('starting the test control plane');
  // one node, as "the second replica on the same node" says
  const bench: ClusterReplicas = await startClusterReplicas('cortex-dep-cache-bench', NS);
  try {
    const { activatorPort } = bench;
    const rt = await bench.runtimes(API, PROJECT);
    const apply = (autoscaling: object) =>
      bench.apply({
        name: API,
        predictor: { type: 'python', path: 'predictor.py', image: 'fake.invalid/sklearn:1' },
        autoscaling,
      });

    log('1. the first replica, on an empty node: pip installs scikit-learn');
    await apply({ minReplicas: 1, maxReplicas: 2 });
    await readyCount(rt, 1, 'the first replica to be ready');
    log('2. a second replica on the same node');
    await apply({ minReplicas: 2, maxReplicas: 2 });
    await readyCount(rt, 2, 'the second replica to be ready', 5 * 60_000);

    log(`3. idle for ${IDLE}, to zero, then a request wakes the API`);
    await apply({ minReplicas: 0, maxReplicas: 2, scaleToZeroAfter: IDLE });
    await waitFor('no replica left', async () => rt.pods().length === 0, 5 * 60_000);
    const wake = await viaActivator(activatorPort, `${API}.${NS}.svc.cluster.local`, { features: [1, 1, 0, 0] });
    if (wake.status !== 200) throw new Error(`the waking request got ${wake.status}: ${wake.body}`);
    await readyCount(rt, 3, "the woken replica's readiness poll", 30_000);
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
    await bench.stop();
  }
}

await main();
