// Phase 1 of the operator benchmark: N sequential creates per controller, alternating: a
// RealtimeAPI until the operator's Deployment is seen, and a Deployment until the built-in
// controller's ReplicaSet is seen, each timed between the two watch events.
import { performance } from 'node:perf_hooks';
import type { Phase } from './phase.ts';
import type { WatchEvent } from './kube.ts';
import { r1, r2, stats } from './measure-util.ts';
import { BUILTIN_NS, DEPLOY, LAT_NS, RAPI, RS, deployment, ownerName, realtimeApi, settled } from './objects.ts';

export async function measureLatency(p: Phase, N: number, WARMUP: number) {
  const seen = {
    rapi: new Map<string, number>(),
    rapiSettled: new Set<string>(),
    ourDep: new Map<string, number>(),
    bDep: new Map<string, number>(),
    bDepSettled: new Set<string>(),
    bRs: new Map<string, number>(),
  };
  const first = (m: Map<string, number>, name: string | undefined, e: WatchEvent) => {
    if (name && !m.has(name)) m.set(name, e.at);
  };
  await p.watch(RAPI(LAT_NS), (e) => {
    first(seen.rapi, e.object.metadata.name, e);
    if (settled(e.object)) seen.rapiSettled.add(e.object.metadata.name);
    p.waiter.poke();
  });
  await p.watch(DEPLOY(LAT_NS), (e) => {
    first(seen.ourDep, e.object.metadata.labels?.['cortex.dev/api'], e);
    p.waiter.poke();
  });
  await p.watch(DEPLOY(BUILTIN_NS), (e) => {
    first(seen.bDep, e.object.metadata.name, e);
    if (settled(e.object)) seen.bDepSettled.add(e.object.metadata.name);
    p.waiter.poke();
  });
  await p.watch(RS(BUILTIN_NS), (e) => {
    first(seen.bRs, ownerName(e.object), e);
    p.waiter.poke();
  });

  const ours: number[] = [];
  const oursFromResponse: number[] = [];
  const builtin: number[] = [];
  const builtinFromResponse: number[] = [];
  const total = WARMUP + N;
  p.say(`latency: ${WARMUP} warm-up + ${N} measured creates per controller, alternating`);
  for (let i = 0; i < total; i++) {
    p.check();
    const measured = i >= WARMUP;
    const timeout = measured ? 30_000 : 90_000;
    // ours: RealtimeAPI → Deployment
    const name = `lat-${i}`;
    await p.k.request('POST', RAPI(LAT_NS), realtimeApi(name, LAT_NS));
    const ourDone = performance.now();
    await p.waiter.until(
      `the Deployment of RealtimeAPI ${name}`,
      () => seen.ourDep.has(name) && seen.rapi.has(name),
      timeout,
    );
    if (measured) {
      ours.push(seen.ourDep.get(name)! - seen.rapi.get(name)!);
      oursFromResponse.push(seen.ourDep.get(name)! - ourDone);
    }
    // let its reconcile finish (Service, HPA, status) before the next create
    await p.waiter.until(`RealtimeAPI ${name}'s status`, () => seen.rapiSettled.has(name), timeout);
    // built-in: Deployment → ReplicaSet
    const bname = `dep-${i}`;
    await p.k.request('POST', DEPLOY(BUILTIN_NS), deployment(bname, BUILTIN_NS));
    const bDone = performance.now();
    await p.waiter.until(
      `the ReplicaSet of Deployment ${bname}`,
      () => seen.bRs.has(bname) && seen.bDep.has(bname),
      timeout,
    );
    if (measured) {
      builtin.push(seen.bRs.get(bname)! - seen.bDep.get(bname)!);
      builtinFromResponse.push(seen.bRs.get(bname)! - bDone);
    }
    await p.waiter.until(`Deployment ${bname}'s status`, () => seen.bDepSettled.has(bname), timeout);
  }
  const latency = {
    n: N,
    operator: stats(ours),
    builtin: stats(builtin),
    operatorFromCreateResponse: stats(oursFromResponse),
    builtinFromCreateResponse: stats(builtinFromResponse),
  };
  const ratioP50 = latency.operator.p50 / latency.builtin.p50;
  const ratioP99 = latency.operator.p99 / latency.builtin.p99;
  p.say(`latency: ours p50 ${r1(latency.operator.p50)} ms, built-in p50 ${r1(latency.builtin.p50)} ms`);
  return { ...latency, ratioP50: r2(ratioP50), ratioP99: r2(ratioP99), ratioP50Raw: ratioP50, ratioP99Raw: ratioP99 };
}
