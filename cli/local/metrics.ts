// Request counts and latency of an API, read from its replicas' /metrics (the runtime's
// cortex_requests_total and cortex_request_duration_seconds). Counts cover the replicas
// running now: they start again from zero after an update or a restart.
import { httpGet } from './http-util.ts';
import type { ApiStatus } from './protocol.ts';

export interface RequestMetrics {
  '2XX': number;
  '4XX': number;
  '5XX': number;
  /** Mean latency in milliseconds; undefined before the first request. */
  averageLatencyMs?: number;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const m of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]] = m[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** Adds one replica's samples to `into` (sums; the latency is kept as sum and count). */
function accumulate(samples: Sample[], into: { counts: RequestMetrics; sum: number; count: number }): void {
  for (const s of samples) {
    if (s.name === 'cortex_requests_total') {
      const cls = `${String(s.labels.status_code ?? '')[0]}XX`;
      if (cls === '2XX' || cls === '4XX' || cls === '5XX') into.counts[cls] += s.value;
    } else if (s.name === 'cortex_request_duration_seconds_sum') {
      into.sum += s.value;
    } else if (s.name === 'cortex_request_duration_seconds_count') {
      into.count += s.value;
    }
  }
}

export async function apiMetrics(api: ApiStatus): Promise<RequestMetrics> {
  const acc = { counts: { '2XX': 0, '4XX': 0, '5XX': 0 } as RequestMetrics, sum: 0, count: 0 };
  const replicas = api.replicas.filter(
    (r) => r.port !== undefined && (r.state === 'ready' || r.state === 'stopping') && r.role !== 'next',
  );
  await Promise.all(
    replicas.map(async (r) => {
      try {
        const { status, body } = await httpGet(r.port!, '/metrics', 1500);
        if (status === 200) accumulate(parsePrometheus(body), acc);
      } catch {
        // a replica going away: its counts are gone with it
      }
    }),
  );
  return { ...acc.counts, ...(acc.count > 0 ? { averageLatencyMs: (acc.sum / acc.count) * 1000 } : {}) };
}
