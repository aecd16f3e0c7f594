// The cluster path's cold starts, on the test control plane with real `cortex serve` replicas
// (bench/cluster-replicas.ts), every request sent to the operator's activator as a Service would:
//   - deploy to first answer: the RealtimeAPI applied, a request held by the activator until the
//     first replica answers it (the first time with the node's dependency cache empty);
//   - wake from zero: the API idle at zero replicas, one request through the activator.
// Each wake is broken down from timestamps taken on this machine: the operator's log, the pod
// informer of test/autoscaling/runtimes.ts, and the replica's own "is ready" line (startupMs).
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { viaActivator, type Answer, type PodRuntimes } from '../../test/autoscaling/runtimes.ts';
import { cortexBin } from '../../test/helpers/serve.ts';
import { waitFor } from '../../test/helpers/wait.ts';
import { startClusterReplicas, type ClusterReplicas } from '../cluster-replicas.ts';
import type { Fixture, Sample } from './stats.ts';

const NS = 'cold';
const IDLE = '10s';
/** The proposed image change the bench also measures (docs/cold-start.md). */
export const COMPILE_CACHE = 'NODE_COMPILE_CACHE set';

interface LogLine {
  time: string;
  message: string;
  api?: string;
  startupMs?: Record<string, number>;
}

function parseLine(line: string): LogLine | undefined {
  const json = line.slice(line.indexOf('{'));
  try {
    return JSON.parse(json) as LogLine;
  } catch {
    return undefined;
  }
}

/** A request through the activator until it is not a 404 (the activator's informer has not seen a new API yet). */
async function answer(bench: ClusterReplicas, api: string, body: object): Promise<Answer> {
  for (;;) {
    const a = await viaActivator(bench.activatorPort, `${api}.${NS}.svc.cluster.local`, body);
    if (a.status !== 404) {
      if (a.status !== 200) throw new Error(`${api}: the request got ${a.status}: ${a.body}`);
      return a;
    }
    await sleep(20);
  }
}

/**
 * Where a wake-up's time went, in order; the steps add up to the whole request. The operator logs
 * "waking the API" once its write returned, sometimes after the pod exists: the split between
 * the first two steps is approximate (a few tens of ms, now and then negative), their sum is not.
 */
function wakeSteps(bench: ClusterReplicas, rt: PodRuntimes, api: string, sent: number, answered: number) {
  const woken = rt.readyTimes.at(-1)!;
  const after = (l: LogLine | undefined) => l !== undefined && Date.parse(l.time) >= sent - 5;
  const op = bench.operator.logs.map(parseLine).filter(after);
  const scaled = op.find((l) => l?.message === 'activator: waking the API' && l.api === `${NS}/${api}`);
  const passed = op.find((l) => l?.message.startsWith('activator: the API is ready') && l.api === `${NS}/${api}`);
  const ready = rt.log
    .filter((l) => l.startsWith(`[${woken.pod} `))
    .map(parseLine)
    .find((l) => l?.startupMs !== undefined);
  if (!scaled || !passed || !ready?.startupMs) return undefined;
  const s = ready.startupMs;
  const readyAt = Date.parse(ready.time);
  const passedAt = Date.parse(passed.time);
  return {
    'activator: request to Deployment scaled 0 -> 1': Date.parse(scaled.time) - sent,
    'controllers: ReplicaSet creates the pod': woken.seenAt - Date.parse(scaled.time),
    'kwok (test plumbing): pod scheduled, Running, pod IP': woken.startedAt - woken.seenAt,
    'replica: process start, Node + modules loaded': readyAt - woken.startedAt - (s.total - s.load),
    'replica: dependencies (venv key, cache lookup)': s.dependencies,
    'replica: HTTP front listening': s.listen,
    'replica: Python worker started, predictor __init__': s.workers,
    'activator: sees the replica ready': passedAt - readyAt,
    'activator: request proxied, answer back': answered - passedAt,
  };
}

/** The cluster samples of every fixture: deploys `repeat` times (the first on an empty node cache), then wakes. */
export async function measureCluster(fixtures: Fixture[], repeat: number, log: (s: string) => void): Promise<Sample[]> {
  const samples: Sample[] = [];
  log('starting the test control plane and the operator');
  const bench = await startClusterReplicas('cortex-cold-start-bench', NS);
  try {
    const apis = [];
    for (const fixture of fixtures) {
      const rt = await bench.runtimes(fixture.api, fixture.dir);
      const body = JSON.parse(fixture.body) as object;
      const apply = (autoscaling: object) =>
        bench.apply({
          name: fixture.api,
          predictor: { type: 'python', path: 'predictor.py', image: `fake.invalid/${fixture.api}:1` },
          autoscaling,
        });
      apis.push({ fixture, rt, body, apply });
      for (let i = 0; i < repeat; i++) {
        if (i > 0) await bench.remove(fixture.api, rt);
        const started = Date.now();
        await apply({ minReplicas: 1, maxReplicas: 1 });
        const a = await answer(bench, fixture.api, body);
        const scenario = i === 0 ? 'deploy (empty node cache)' : 'deploy (dependencies cached)';
        samples.push({ env: 'cluster', api: fixture.api, scenario, ms: Date.now() - started });
        log(`  cluster ${fixture.api} ${scenario}: ${((Date.now() - started) / 1000).toFixed(2)} s (${a.ms} ms held)`);
      }
    }
    for (const { apply } of apis)
      await apply({ minReplicas: 0, initReplicas: 1, maxReplicas: 1, scaleToZeroAfter: IDLE });
    // what the runtime image could set (docs/cold-start.md): Node's compile cache, warmed once
    const compileCache = { NODE_COMPILE_CACHE: path.join(bench.dir, 'node-compile-cache') };
    await execa(process.execPath, [cortexBin, 'serve', '--help'], { env: compileCache });
    for (let i = 0; i < repeat; i++) {
      for (const { fixture, rt, body } of apis) {
        for (const [scenario, env] of [
          ['wake from zero', {}],
          [`wake from zero, ${COMPILE_CACHE}`, compileCache],
        ] as const) {
          rt.env = env;
          await waitFor(`${fixture.api} at zero replicas`, async () => rt.pods().length === 0, 180_000);
          // the pod of the scale-down is gone; its process stopping must not share the CPU with the wake
          await sleep(1000);
          const before = rt.readyTimes.length;
          const sent = Date.now();
          const a = await answer(bench, fixture.api, body);
          await waitFor(`${fixture.api}'s woken replica`, async () => rt.readyTimes.length > before, 30_000);
          const steps = wakeSteps(bench, rt, fixture.api, sent, sent + a.ms);
          samples.push({ env: 'cluster', api: fixture.api, scenario, ms: a.ms, ...(steps && { steps }) });
          log(`  cluster ${fixture.api} ${scenario}: ${(a.ms / 1000).toFixed(2)} s`);
        }
      }
    }
  } finally {
    await bench.stop();
  }
  return samples;
}
