// Request counts and latency percentiles of an API over a recent window, from its replicas'
// cumulative /metrics (cortex_requests_total, cortex_request_duration_seconds): the difference
// between two scrapes of each replica, summed over replicas, and the percentiles computed from the
// histogram's buckets as Prometheus's histogram_quantile does (linear within a bucket). Pure
// functions; the local supervisor (cli/local/recent-metrics.ts) collects, cli/commands prints.
import { parsePrometheus } from './local/metrics.ts';

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
}

export function countsOf(metricsText: string): Counts {
  const c: Counts = { requests: 0, errors: 0, buckets: new Map() };
  for (const s of parsePrometheus(metricsText)) {
    if (s.name === 'cortex_requests_total') {
      c.requests += s.value;
      if (String(s.labels.status_code ?? '').startsWith('5')) c.errors += s.value;
    } else if (s.name === 'cortex_request_duration_seconds_bucket') {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      c.buckets.set(le, (c.buckets.get(le) ?? 0) + s.value);
    }
  }
  return c;
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
