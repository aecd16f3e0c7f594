// A replica's /metrics answer → the two numbers the adapter keeps. The text is parsed with
// parse-prometheus-text-format (the Prometheus text format, as prom-client writes it); that
// parser is lenient about values, so each one used here is checked: a replica that answers
// something else (an HTML page, a proxy's error) is a failed scrape, not a zero.

import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { IN_FLIGHT_METRIC } from '../reconcilers/hpa.ts';
import type { Counts } from './request-stats.ts';

export const REQUESTS_METRIC = 'cortex_requests_total';
export const DURATION_METRIC = 'cortex_request_duration_seconds';
/** The runtime's gauge of a model whose new version failed to download or load (runtime/metrics.ts). */
export const RELOAD_FAILING_METRIC = 'cortex_model_reload_failing';

export interface Scraped {
  inFlight: number;
  requestsTotal: number;
  /** The models (the label model) whose new version failed and an older one serves, sorted. */
  reloadFailing: string[];
  /** Requests, 5xx answers and latency buckets, summed over label sets (the request window's input). */
  counts: Counts;
}

function number(family: MetricFamily, raw: string | undefined): number {
  const v = Number(raw ?? '');
  if ((raw ?? '').trim() === '' || Number.isNaN(v) || v < 0)
    throw new Error(`${family.name} has the value "${raw ?? ''}", expected a number ≥ 0`);
  return v;
}

/** The request counter by status and the latency histogram's buckets (le "+Inf" → Infinity). */
function countsOf(requests: MetricFamily | undefined, durations: MetricFamily | undefined): Counts {
  const counts: Counts = { requests: 0, errors: 0, buckets: new Map() };
  if (requests !== undefined) {
    const vs = values(requests, 'COUNTER');
    requests.metrics.forEach((m, i) => {
      counts.requests += vs[i];
      if ((m.labels?.status_code ?? '').startsWith('5')) counts.errors += vs[i];
    });
  }
  if (durations !== undefined && durations.type !== 'HISTOGRAM')
    throw new Error(`${durations.name} is a ${durations.type.toLowerCase()}, expected a histogram`);
  for (const m of durations?.metrics ?? []) {
    const buckets = { '+Inf': m.count, ...m.buckets };
    for (const [le, raw] of Object.entries(buckets)) {
      const bound = le === '+Inf' ? Infinity : number(durations!, le);
      counts.buckets.set(bound, (counts.buckets.get(bound) ?? 0) + number(durations!, raw));
    }
  }
  return counts;
}

function values(family: MetricFamily, expectType: MetricFamily['type']): number[] {
  if (family.type !== expectType && family.type !== 'UNTYPED') {
    throw new Error(`${family.name} is a ${family.type.toLowerCase()}, expected a ${expectType.toLowerCase()}`);
  }
  return family.metrics.map((m) => {
    const raw = m.value ?? '';
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(v) || v < 0)
      throw new Error(`${family.name} has the value "${raw}", expected a number ≥ 0`);
    return v;
  });
}

/** The in-flight gauge and the request counter (summed over their label sets) from /metrics text. */
export function parseScrape(text: string): Scraped {
  let families: MetricFamily[];
  try {
    families = parsePrometheusTextFormat(text);
  } catch (error) {
    throw new Error(`not the Prometheus text format: ${error instanceof Error ? error.message : String(error)}`);
  }
  const inFlight = families.find((f) => f.name === IN_FLIGHT_METRIC);
  if (inFlight === undefined || inFlight.metrics.length === 0) {
    throw new Error(`no ${IN_FLIGHT_METRIC} sample in the answer (is this a Cortex runtime's /metrics?)`);
  }
  const requests = families.find((f) => f.name === REQUESTS_METRIC);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const reload = families.find((f) => f.name === RELOAD_FAILING_METRIC);
  const reloadValues = reload === undefined ? [] : values(reload, 'GAUGE');
  const reloadFailing = (reload?.metrics ?? [])
    .filter((_, i) => reloadValues[i] === 1)
    .map((m) => m.labels?.model ?? '')
    .sort();
  return {
    reloadFailing,
    counts: countsOf(
      requests,
      families.find((f) => f.name === DURATION_METRIC),
    ),
    inFlight: sum(values(inFlight, 'GAUGE')),
    // absent until the first request on runtimes that create the series lazily
    requestsTotal: requests === undefined ? 0 : sum(values(requests, 'COUNTER')),
  };
}
