// One replica's /metrics text → its request counters (Counts); the window math is shared with
// the operator's metrics API in operator/metrics-adapter/request-stats.ts.
import { parsePrometheus } from './local/metrics.ts';
import type { Counts } from '../operator/metrics-adapter/request-stats.ts';

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
