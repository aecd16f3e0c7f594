// The peer bench's table and verdict: every server against the best peer (the most requests per
// CPU-second), and the target: a cortex configuration at >= 1.5x that peer's requests per
// CPU-second with a p99 no worse than that peer's.
import type { Measurement } from '../measure.ts';
import { alignTable, formatCount, loadCells } from '../table.ts';

export interface Outcome {
  id: string;
  label: string;
  side: 'cortex' | 'peer';
  batching: string;
  status: 'ok' | 'unavailable' | 'failed';
  reason?: string;
  url?: string;
  result?: Measurement;
}

export const TARGET = { minPerCpu: 1.5 };

export interface Comparison {
  id: string;
  perCpuRatio: number;
  p99Ratio: number;
  pass: boolean;
  text: string;
}

export function verdicts(outcomes: Outcome[]): {
  best?: { id: string; label: string };
  comparisons: Comparison[];
  verdict: 'PASS' | 'MISS' | 'N/A';
} {
  const ran = outcomes.filter((o) => o.status === 'ok' && o.result);
  const peers = ran.filter((o) => o.side === 'peer');
  const best = peers.reduce<Outcome | undefined>(
    (a, o) => (!a || o.result!.requestsPerCpuS > a.result!.requestsPerCpuS ? o : a),
    undefined,
  );
  if (!best) return { comparisons: [], verdict: 'N/A' };
  const comparisons = ran
    .filter((o) => o.side === 'cortex')
    .map((o) => {
      const perCpuRatio = o.result!.requestsPerCpuS / best.result!.requestsPerCpuS;
      const p99Ratio = o.result!.p99Ms / best.result!.p99Ms;
      const pass = perCpuRatio >= TARGET.minPerCpu && p99Ratio <= 1;
      const text =
        `${o.label} vs ${best.label}: ${perCpuRatio.toFixed(2)}x req/CPU-s, p99 ${p99Ratio.toFixed(2)}x ` +
        `-> ${pass ? 'PASS' : 'MISS'}`;
      return { id: o.id, perCpuRatio, p99Ratio, pass, text };
    });
  const verdict = comparisons.length === 0 ? 'N/A' : comparisons.some((c) => c.pass) ? 'PASS' : 'MISS';
  return { best: { id: best.id, label: best.label }, comparisons, verdict };
}

const fmt = formatCount;

/** The results as aligned text lines; ratios are against `best`. */
export function table(outcomes: Outcome[], best?: { id: string }): string[] {
  const b = outcomes.find((o) => o.id === best?.id)?.result;
  const head = ['server', 'req/s', 'p50 ms', 'p99 ms', 'CPU cores', 'procs', 'req/CPU-s', 'x best', 'p99 x best'];
  const rows = [[...head, 'errors', 'other load']];
  const notes: string[] = [];
  for (const o of outcomes) {
    const r = o.result;
    if (!r) {
      rows.push([o.label, o.status, ...Array<string>(head.length + 1).fill('')]);
      notes.push(`${o.label}: ${o.status}: ${(o.reason ?? '').split('\n')[0]}`);
      continue;
    }
    rows.push([
      o.label,
      ...loadCells(r),
      String(r.processes),
      fmt(r.requestsPerCpuS),
      b ? `${(r.requestsPerCpuS / b.requestsPerCpuS).toFixed(2)}` : '-',
      b ? `${(r.p99Ms / b.p99Ms).toFixed(2)}` : '-',
      String(r.non2xx + r.errors),
      r.otherCores.toFixed(2),
    ]);
    if (r.worker)
      notes.push(
        `${o.label}, ${r.worker.label} alone (not its whole cost): ${r.worker.cpuSeconds.toFixed(2)} CPU-s, ` +
          `${fmt(r.worker.requestsPerCpuS)} req/CPU-s`,
      );
  }
  return [...alignTable(rows), ...notes.map((n) => `  ${n}`)];
}
