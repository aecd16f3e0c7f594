// Phase 2 of the operator benchmark: `apis` RealtimeAPIs created at once (`concurrency` requests
// in flight), timed until every one has its Deployment, Service, HPA and an observed status, with
// the CPU of every control-plane process and the operator's peak RSS over the phase.
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { daemons } from '../../test/cluster/processes.ts';
import { machineBusyTicks } from '../cpu.ts';
import { KubeError, type WatchEvent } from './kube.ts';
import { procStatusKB, procTicks, r1, r2, stats } from './measure-util.ts';
import { DEPLOY, HPA, RAPI, SCALE_NS, SVC, realtimeApi, settled } from './objects.ts';
import type { Phase, RssSampler } from './phase.ts';

export interface ScaleOptions {
  apis: number;
  concurrency: number;
  /** initReplicas/minReplicas of each API (0: no pods). */
  replicas: number;
  timeoutMs: number;
  operatorPid: number;
  /** The test cluster's state folder: its daemons' CPU is measured too. */
  stateDir: string;
  /** Clock ticks per second (/proc times). */
  hz: number;
}

export async function measureScale(p: Phase, o: ScaleOptions, rss: RssSampler) {
  const have = {
    dep: new Set<string>(),
    svc: new Set<string>(),
    hpa: new Set<string>(),
    observed: new Set<string>(),
  };
  const doneAt: Record<keyof typeof have, number> = { dep: 0, svc: 0, hpa: 0, observed: 0 };
  const mark = (key: keyof typeof have, name: string | undefined, e: WatchEvent) => {
    if (!name || have[key].has(name)) return;
    have[key].add(name);
    if (have[key].size === o.apis) doneAt[key] = e.at;
    p.waiter.poke();
  };
  await p.watch(DEPLOY(SCALE_NS), (e) => mark('dep', e.object.metadata.labels?.['cortex.dev/api'], e));
  await p.watch(SVC(SCALE_NS), (e) => mark('svc', e.object.metadata.labels?.['cortex.dev/api'], e));
  await p.watch(HPA(SCALE_NS), (e) => mark('hpa', e.object.metadata.labels?.['cortex.dev/api'], e));
  await p.watch(RAPI(SCALE_NS), (e) => {
    if (e.type !== 'DELETED' && settled(e.object)) mark('observed', e.object.metadata.name, e);
  });
  const allDone = () => Object.values(have).every((s) => s.size >= o.apis);

  // CPU of each control-plane process, the operator, this harness and the whole machine
  const procs = [
    { name: 'cortex-operator', pid: o.operatorPid },
    ...daemons(o.stateDir).map((d) => ({ name: d.name, pid: d.pid })),
  ];
  const ticksBefore = procs.map((proc) => procTicks(proc.pid) ?? 0);
  const selfBefore = process.cpuUsage();
  const machineBefore = machineBusyTicks();
  const rssBefore = procStatusKB(o.operatorPid, 'VmRSS') ?? 0;

  rss.startScale(rssBefore);
  const autoscaling =
    o.replicas === 0 ? { minReplicas: 0, initReplicas: 0 } : { minReplicas: o.replicas, initReplicas: o.replicas };
  p.say(
    `scale: creating ${o.apis} RealtimeAPIs, ${o.concurrency} at a time (autoscaling ${JSON.stringify(autoscaling)})`,
  );
  const start = performance.now();
  const createMs: number[] = [];
  let retries429 = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(o.concurrency, o.apis) }, async () => {
      while (next < o.apis) {
        const i = next++;
        const body = realtimeApi(`s-${i}`, SCALE_NS, autoscaling);
        for (;;) {
          const t = performance.now();
          try {
            await p.k.request('POST', RAPI(SCALE_NS), body);
            createMs.push(performance.now() - t);
            break;
          } catch (err) {
            if (err instanceof KubeError && err.status === 429) {
              retries429++;
              await sleep(100);
              continue;
            }
            throw err;
          }
        }
      }
    }),
  );
  const createdAt = performance.now();
  p.say(`scale: all created in ${r1((createdAt - start) / 1000)} s; waiting for every one to be reconciled`);
  let timedOut = false;
  await p.waiter
    .until('every API to be reconciled', () => allDone() || p.failed(), o.timeoutMs)
    .catch(() => {
      timedOut = true;
      process.exitCode = 1;
    });
  p.check();
  const end = performance.now();
  rss.endScale();
  const wallS = (end - start) / 1000;
  const cpuSeconds: Record<string, number> = {};
  procs.forEach((proc, j) => {
    cpuSeconds[proc.name] = r2(((procTicks(proc.pid) ?? ticksBefore[j]) - ticksBefore[j]) / o.hz);
  });
  const self = process.cpuUsage(selfBefore);
  cpuSeconds['bench harness'] = r2((self.user + self.system) / 1e6);
  const machine = (machineBusyTicks() - machineBefore) / o.hz;
  const known = Object.values(cpuSeconds).reduce((a, b) => a + b, 0);
  cpuSeconds['everything else'] = r2(Math.max(0, machine - known));
  const cores: Record<string, number> = {};
  for (const [n, s] of Object.entries(cpuSeconds)) cores[n] = r2(s / wallS);
  const at = (t: number) => (t ? r2((t - start) / 1000) : null);
  return {
    apis: o.apis,
    concurrency: o.concurrency,
    replicasPerApi: o.replicas,
    timedOut,
    reconciled: {
      deployments: have.dep.size,
      services: have.svc.size,
      hpas: have.hpa.size,
      observedGeneration: have.observed.size,
    },
    createsSeconds: r2((createdAt - start) / 1000),
    createsPerSecond: r1(o.apis / ((createdAt - start) / 1000)),
    createRequestMs: stats(createMs),
    retries429,
    allReconciledSeconds: timedOut ? null : r2(wallS),
    afterLastCreateSeconds: timedOut ? null : r2((end - createdAt) / 1000),
    allDoneSeconds: {
      deployments: at(doneAt.dep),
      services: at(doneAt.svc),
      hpas: at(doneAt.hpa),
      observedGeneration: at(doneAt.observed),
    },
    rssBeforeMB: r1(rssBefore / 1024),
    peakRssMB: r1(rss.scalePeakKB / 1024),
    cpuSeconds,
    cores,
    machineCores: cpus().length,
  };
}
