// Request counts and latency percentiles over a window, from replicas' cumulative counters
// (cortex_requests_total, cortex_request_duration_seconds): the increase between two scrapes of
// each replica, summed over replicas, and percentiles computed from the histogram's buckets as
// Prometheus's histogram_quantile does (linear within a bucket). Pure functions shared by the
// local supervisor (cli/local/recent-metrics.ts), the CLI's fallback on a cluster
// (cli/cluster/pod-metrics.ts) and the operator's metrics API (request-window.ts here).

/** One replica's counters (or their increase between two scrapes). */
export interface Counts {
  requests: number;
  errors: number;
  /** Cumulative histogram buckets of cortex_request_duration_seconds: upper bound (s) → count. */
  buckets: Map<number, number>;
}

/** What `cortex get API` shows about the last minutes. */
export interface RecentRequests {
  /** Seconds the numbers cover (less than the window while the API is young). */
  windowSeconds: number;
  requests: number;
  /** Share of the answered requests with a 5xx status; absent without requests. */
  errorRatio?: number;
  p50Ms?: number;
  p99Ms?: number;
  /**
   * On a cluster, where the figures come from: the operator's metrics API (its window of the
   * replicas' scrapes) or, when that did not answer, the ready replicas' counters since they
   * started; `fallback` then says why.
   */
  source?: 'metrics-api' | 'replicas';
  fallback?: string;
}

/** The increase from `before` to `after` of one replica; a counter that went down restarted from 0. */
export function increase(before: Counts | undefined, after: Counts): Counts {
  if (before === undefined || after.requests < before.requests) return after;
  const buckets = new Map<number, number>();
  for (const [le, n] of after.buckets) buckets.set(le, Math.max(0, n - (before.buckets.get(le) ?? 0)));
  return { requests: after.requests - before.requests, errors: Math.max(0, after.errors - before.errors), buckets };
}

export function sum(parts: Counts[]): Counts {
  const total: Counts = { requests: 0, errors: 0, buckets: new Map() };
  for (const p of parts) {
    total.requests += p.requests;
    total.errors += p.errors;
    for (const [le, n] of p.buckets) total.buckets.set(le, (total.buckets.get(le) ?? 0) + n);
  }
  return total;
}

/**
 * The q-quantile of cumulative buckets, as histogram_quantile: linear interpolation inside the
 * bucket it falls in (from 0 for the first); in the +Inf bucket, the highest finite bound.
 */
export function histogramQuantile(q: number, buckets: Map<number, number>): number | undefined {
  const sorted = [...buckets].sort(([a], [b]) => a - b);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total === 0) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return lowerBound;
      return lowerBound + (le - lowerBound) * ((rank - lowerCount) / (count - lowerCount || 1));
    }
    lowerBound = le;
    lowerCount = count;
  }
  return lowerBound;
}

export function summarize(c: Counts, windowSeconds: number): RecentRequests {
  const r: RecentRequests = { windowSeconds: Math.round(windowSeconds), requests: c.requests };
  if (c.requests === 0) return r;
  r.errorRatio = c.errors / c.requests;
  const p50 = histogramQuantile(0.5, c.buckets);
  const p99 = histogramQuantile(0.99, c.buckets);
  if (p50 !== undefined) r.p50Ms = p50 * 1000;
  if (p99 !== undefined) r.p99Ms = p99 * 1000;
  return r;
}
