// The operator benchmark's results as the table it prints.
import type { Obj } from './kube.ts';
import { r1 } from './measure-util.ts';

/** The results as a table on `out`. */
export function printTable(out: NodeJS.WritableStream, r: Obj): void {
  const w = (s: string) => out.write(`${s}\n`);
  const ms = (x: number) => `${r1(x)} ms`.padStart(10);
  const L = r.latency;
  w('');
  w(
    `cortex-operator benchmark  ${r.date}  ${r.machine.cores} cores  ` +
      `load average ${r.loadAverage.start.join(' ')} → ${r.loadAverage.end.join(' ')}`,
  );
  w('');
  w(`1. latency, N = ${L.n} sequential creates each (client-side watch events, create seen → child seen)`);
  w(
    `   ${'controller'.padEnd(44)}${'p50'.padStart(10)}${'p90'.padStart(10)}${'p99'.padStart(10)}${'max'.padStart(10)}`,
  );
  w(
    `   ${'cortex-operator: RealtimeAPI → Deployment'.padEnd(44)}` +
      `${ms(L.operator.p50)}${ms(L.operator.p90)}${ms(L.operator.p99)}${ms(L.operator.max)}`,
  );
  w(
    `   ${'built-in: Deployment → ReplicaSet'.padEnd(44)}` +
      `${ms(L.builtin.p50)}${ms(L.builtin.p90)}${ms(L.builtin.p99)}${ms(L.builtin.max)}`,
  );
  w(`   ${'ratio'.padEnd(44)}${`${L.ratioP50}×`.padStart(10)}${''.padStart(10)}${`${L.ratioP99}×`.padStart(10)}`);
  w(
    `   (from the create response instead: ours p50 ${r1(L.operatorFromCreateResponse.p50)} ms, ` +
      `built-in p50 ${r1(L.builtinFromCreateResponse.p50)} ms)`,
  );
  if (!r.scale.skipped) {
    const s = r.scale;
    w('');
    w(`2. scale: ${s.apis} RealtimeAPIs, ${s.concurrency} creates in flight, ${s.replicasPerApi} replicas each`);
    w(
      `   created in ${s.createsSeconds} s (${s.createsPerSecond}/s, ` +
        `request p50 ${r1(s.createRequestMs.p50)} ms p99 ${r1(s.createRequestMs.p99)} ms, ${s.retries429} × 429)`,
    );
    w(
      `   all reconciled: ` +
        (s.timedOut
          ? `TIMED OUT (${JSON.stringify(s.reconciled)})`
          : `${s.allReconciledSeconds} s (${s.afterLastCreateSeconds} s after the last create)`),
    );
    w(
      `   every Deployment ${s.allDoneSeconds.deployments} s, Service ${s.allDoneSeconds.services} s, ` +
        `HPA ${s.allDoneSeconds.hpas} s, status ${s.allDoneSeconds.observedGeneration} s`,
    );
    w(`   operator RSS ${s.rssBeforeMB} MB before, peak ${s.peakRssMB} MB`);
    w(
      `   CPU during the phase (cores, of ${s.machineCores}): ${Object.entries(s.cores)
        .map(([n, c]) => `${n} ${c}`)
        .join(', ')}`,
    );
  }
  w(
    `   operator RSS idle after start ${r.memory.idleRssMB} MB; ` +
      `peak over the whole run: ${r.memory.peakRssSampledMB} MB sampled, VmHWM ${r.memory.vmHwmMB} MB; ` +
      `log: ${r.operator.warnings} warnings, ${r.operator.errors} errors; bench watches resumed ${r.watchRestarts}×`,
  );
  w('');
  w(`   ${'goal'.padEnd(44)}${'target'.padStart(22)}${'value'.padStart(10)}  result`);
  const rows: [string, string][] = [
    ['latencyP50', 'latency p50 ratio'],
    ['latencyP99', 'latency p99 ratio'],
    ['scaleTime', `${r.scale.apis ?? ''} APIs reconciled (s)`],
    ['peakRss', 'operator peak RSS (MB)'],
  ];
  for (const [key, label] of rows) {
    const g = r.goals[key];
    if (g)
      w(`   ${label.padEnd(44)}${g.goal.padStart(22)}${String(g.value).padStart(10)}  ${g.pass ? 'PASS' : 'MISS'}`);
  }
  w('');
}
