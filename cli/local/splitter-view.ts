// `cortex get SPLITTER` in the local environment: each API behind the splitter side by side with
// its weight, status, request rate and error rate, measured over a short window from the
// replicas' /metrics (cli/local/metrics.ts), so a canary's errors show next to the stable
// version's before its weight goes up.
import type { ChalkInstance } from 'chalk';
import { table } from '../output.ts';
import { apiMetrics, type RequestMetrics } from './metrics.ts';
import type { ApiStatus } from './protocol.ts';
import type { SplitterStatus } from './splitters-local.ts';

export interface BackendRates {
  api: string;
  /** The weight, or 'shadow'. */
  weight: number | 'shadow';
  status: string;
  /** Requests per second answered in the window. */
  requestsPerSecond: number;
  /** Share of those that were 5XX (%); undefined without requests in the window. */
  errorRate?: number;
  /** Totals since the replicas started. */
  total: RequestMetrics;
}

const sum = (m: RequestMetrics) => m['2XX'] + m['4XX'] + m['5XX'];

/** Samples every backend's counters twice, `windowMs` apart. */
export async function splitterRates(
  splitter: SplitterStatus,
  apis: ApiStatus[],
  windowMs = 1000,
): Promise<BackendRates[]> {
  const backends = splitter.apis.map((a) => ({ spec: a, api: apis.find((x) => x.name === a.name) }));
  const sample = () => Promise.all(backends.map((b) => (b.api ? apiMetrics(b.api) : Promise.resolve(undefined))));
  const start = Date.now();
  const first = await sample();
  await new Promise((r) => setTimeout(r, windowMs));
  const second = await sample();
  const seconds = (Date.now() - start) / 1000;
  return backends.map((b, i) => {
    const before = first[i];
    const after = second[i];
    const none: RequestMetrics = { '2XX': 0, '4XX': 0, '5XX': 0 };
    const requests = before && after ? Math.max(0, sum(after) - sum(before)) : 0;
    const errors = before && after ? Math.max(0, after['5XX'] - before['5XX']) : 0;
    return {
      api: b.spec.name,
      weight: b.spec.shadow ? 'shadow' : b.spec.weight,
      status: b.api?.status ?? 'missing',
      requestsPerSecond: requests / seconds,
      ...(requests > 0 ? { errorRate: (errors / requests) * 100 } : {}),
      total: after ?? none,
    };
  });
}

/** One line of `cortex get`'s list per TrafficSplitter: its name, its split, where it answers. */
export interface SplitterListRow {
  name: string;
  weights: string;
  endpoint: string;
  status?: string;
}

/** The splitters under the APIs in `cortex get` (nothing when there are none). */
export function renderSplitterList(rows: SplitterListRow[], c: ChalkInstance): string {
  if (rows.length === 0) return '';
  const withStatus = rows.some((r) => r.status !== undefined);
  const head = ['traffic splitter', ...(withStatus ? ['status'] : []), 'apis', 'endpoint'];
  return (
    '\n' +
    table(
      head,
      rows.map((r) => [r.name, ...(withStatus ? [r.status ?? '-'] : []), r.weights, r.endpoint]),
      c,
    )
  );
}

/** The table, then where the splitter answers (`url`). */
export function renderSplitter(rows: BackendRates[], url: string, c: ChalkInstance): string {
  const text = table(
    ['api', 'weight', 'status', 'requests/s', 'errors (5XX)', '2XX total', '5XX total'],
    rows.map((r) => [
      r.api,
      r.weight === 'shadow' ? 'shadow' : `${r.weight}%`,
      r.status,
      r.requestsPerSecond.toFixed(1),
      r.errorRate === undefined ? '-' : `${r.errorRate.toFixed(1)}%`,
      String(r.total['2XX']),
      String(r.total['5XX']),
    ]),
    c,
  );
  return (
    `${text}\nendpoint: ${url}\n` +
    'change the weights in cortex.yaml and run cortex deploy again; rates are over the last second\n'
  );
}
