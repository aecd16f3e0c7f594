// The request window (request-window.ts) as object metrics of a RealtimeAPI in the custom
// metrics API, one metric per figure:
//   GET .../namespaces/{ns}/realtimeapis.cortex.dev/{name}/{metric}
//   GET .../namespaces/{ns}/realtimeapis.cortex.dev/*/{metric}?labelSelector=…
// answered, as the API server's custom metrics API does, with a MetricValueList whose items
// describe the RealtimeAPI (describedObject) and carry windowSeconds: the span the figures
// cover (REQUEST_WINDOW_MS, less while the API is younger).

import { GROUP as CORTEX_GROUP, PLURAL, VERSION as CORTEX_VERSION } from '../api/v1alpha1/index.ts';
import { microQuantity } from './quantity.ts';
import type { RecentRequests } from './request-stats.ts';
import type { RequestWindows } from './request-window.ts';
import type { ApiObject } from './scraper.ts';
import { matches, type Selector } from './selector.ts';

/** The resource of the object metrics, as the API server's path names it (resource.group). */
export const REALTIME_API_RESOURCE = `${PLURAL}.${CORTEX_GROUP}`;

/** Each metric and how it is read from the window's figures; undefined: no value (no requests). */
export const REQUEST_METRICS: Record<string, (r: RecentRequests) => number | undefined> = {
  /** Requests answered in the window. */
  cortex_requests: (r) => r.requests,
  cortex_requests_per_second: (r) => r.requests / r.windowSeconds,
  /** Share of the answered requests with a 5xx status. */
  cortex_request_error_ratio: (r) => r.errorRatio,
  cortex_request_latency_p50_seconds: (r) => (r.p50Ms === undefined ? undefined : r.p50Ms / 1000),
  cortex_request_latency_p99_seconds: (r) => (r.p99Ms === undefined ? undefined : r.p99Ms / 1000),
};

export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export type ObjectMetricAnswer = { items: object[] } | { notFound: string };

/**
 * The items for `metric` of the RealtimeAPI `name` ('*': those matching `selector`) in
 * `namespace`: one per API with figures in the window and a value for the metric.
 */
export function objectMetricItems(
  version: 'v1beta2' | 'v1beta1',
  namespace: string,
  name: string,
  metric: string,
  selector: Selector,
  apis: ApiObject[],
  windows: RequestWindows,
  now: number,
): ObjectMetricAnswer {
  const read = REQUEST_METRICS[metric];
  const chosen = apis
    .filter(
      (a) =>
        a.metadata.namespace === namespace &&
        (name === '*' ? matches(selector, a.metadata.labels) : a.metadata.name === name),
    )
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  const items: object[] = [];
  let why = `${REALTIME_API_RESOURCE} ${namespace}/${name} does not exist`;
  for (const api of chosen) {
    const figures = windows.figures(namespace, api.metadata.name, now);
    why = `no ready replica of ${namespace}/${api.metadata.name} was scraped in the last ${windows.windowMs / 1000} s`;
    if (figures === undefined) continue;
    const value = read(figures.recent);
    why = `${namespace}/${api.metadata.name} answered no requests in the last ${figures.recent.windowSeconds} s`;
    if (value === undefined) continue;
    const describedObject = {
      kind: 'RealtimeAPI',
      namespace,
      name: api.metadata.name,
      apiVersion: `${CORTEX_GROUP}/${CORTEX_VERSION}`,
    };
    const common = {
      timestamp: rfc3339(figures.timestamp),
      windowSeconds: Math.round(figures.recent.windowSeconds),
      value: microQuantity(value),
    };
    items.push(
      version === 'v1beta2'
        ? { describedObject, metric: { name: metric }, ...common }
        : { describedObject, metricName: metric, ...common },
    );
  }
  if (name !== '*' && items.length === 0) return { notFound: why };
  return { items };
}
