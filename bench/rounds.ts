// Several rounds of the same comparison, summarised. On a VM whose speed drifts by 2× over an
// evening (docs/performance.md), one interval per server measured minutes apart compares two
// different machines. In rounds (every server once per round, the same order each round) the
// two sides of a ratio are measured minutes apart at most, so the ratio is taken per round and
// its median over the rounds is the figure: drift between rounds cancels out of each ratio.

/** What a ratio needs from one measured interval. */
export interface RoundFigures {
  requestsPerS: number;
  p50Ms: number;
  p99Ms: number;
  requestsPerCpuS: number;
  cpuCores: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Each figure's median over the rounds (a server's row in the table). */
export function medianFigures(rounds: readonly RoundFigures[]): RoundFigures {
  const of = (pick: (r: RoundFigures) => number) => median(rounds.map(pick));
  return {
    requestsPerS: of((r) => r.requestsPerS),
    p50Ms: of((r) => r.p50Ms),
    p99Ms: of((r) => r.p99Ms),
    requestsPerCpuS: of((r) => r.requestsPerCpuS),
    cpuCores: of((r) => r.cpuCores),
  };
}

export interface PairedRatios {
  /** a's req/CPU-s over b's, per round where both ran. */
  perCpu: number[];
  /** a's p99 over b's, per round where both ran. */
  p99: number[];
  perCpuMedian: number;
  p99Median: number;
}

/**
 * Ratios of a to b taken within each round (undefined: that server did not run in the round),
 * or undefined when no round has both.
 */
export function pairedRatios(
  a: readonly (RoundFigures | undefined)[],
  b: readonly (RoundFigures | undefined)[],
): PairedRatios | undefined {
  const perCpu: number[] = [];
  const p99: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const [ra, rb] = [a[i], b[i]];
    if (ra === undefined || rb === undefined) continue;
    perCpu.push(ra.requestsPerCpuS / rb.requestsPerCpuS);
    p99.push(ra.p99Ms / rb.p99Ms);
  }
  if (perCpu.length === 0) return undefined;
  return { perCpu, p99, perCpuMedian: median(perCpu), p99Median: median(p99) };
}
