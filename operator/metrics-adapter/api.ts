// The custom metrics API (custom.metrics.k8s.io, v1beta2 and v1beta1) for the one metric
// Cortex scales on: pods/cortex_in_flight_requests, each pod's mean in-flight requests over its
// API's autoscaling.window; and, for `cortex get API`, the last minutes' requests, error ratio
// and latency as metrics of the RealtimeAPI object (request-metrics.ts). The routes are those of
// k8s.io/metrics' custom metrics API:
//   GET /apis/custom.metrics.k8s.io/{version}                                  discovery
//   GET .../namespaces/{ns}/pods/*/{metric}?labelSelector=…&metricLabelSelector=…   every matching pod
//   GET .../namespaces/{ns}/pods/{pod}/{metric}                                one pod
// Anything else is a 404 Status (405 for methods other than GET), as the API server answers.

import { IN_FLIGHT_METRIC } from '../reconcilers/hpa.ts';
import { API_LABEL } from '../reconcilers/types.ts';
import type { ResourceAttributes } from './authz.ts';
import { metricQuantity } from './quantity.ts';
import { objectMetricItems, REALTIME_API_RESOURCE, REQUEST_METRICS, rfc3339 } from './request-metrics.ts';
import type { RequestWindows } from './request-window.ts';
import type { SampleStore } from './samples.ts';
import { QUEUE_DEPTH_METRIC, QUEUE_DEPTH_RESOURCE, answerQueueDepth, type QueueDepths } from './queue-depth.ts';
import type { ApiObject, PodObject } from './scraper.ts';
import { matches, parseSelector, type Selector } from './selector.ts';

export const GROUP = 'custom.metrics.k8s.io';
export const VERSIONS = ['v1beta2', 'v1beta1'] as const;
export type Version = (typeof VERSIONS)[number];

export interface Answer {
  status: number;
  body: object;
}

export type Route =
  | { kind: 'group' }
  | { kind: 'discovery'; version: Version }
  | { kind: 'metric'; version: Version; namespace: string | undefined; resource: string; name: string; metric: string };

export function status(code: number, reason: string, message: string): Answer {
  return {
    status: code,
    body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code },
  };
}

const notFoundMetric = (metric: string, what: string) =>
  status(404, 'NotFound', `the server could not find the metric ${metric} for ${what}`);

/** The route of a path, or undefined when it is none of this API's. */
export function route(pathname: string): Route | undefined {
  const parts = pathname
    .split('/')
    .filter((p) => p !== '')
    .map((p) => {
      try {
        return decodeURIComponent(p); // the HPA's client sends "*" as %2A
      } catch {
        return p;
      }
    });
  if (parts[0] !== 'apis' || parts[1] !== GROUP) return undefined;
  if (parts.length === 2) return { kind: 'group' };
  const version = parts[2] as Version;
  if (!VERSIONS.includes(version)) return undefined;
  const rest = parts.slice(3);
  if (rest.length === 0) return { kind: 'discovery', version };
  if (rest[0] === 'namespaces' && rest.length === 5)
    return { kind: 'metric', version, namespace: rest[1], resource: rest[2], name: rest[3], metric: rest[4] };
  // a metric of a namespace object itself (…/namespaces/{ns}/metrics/{metric}) or of a cluster-scoped resource
  if (rest[0] === 'namespaces' && rest.length === 4 && rest[2] === 'metrics')
    return { kind: 'metric', version, namespace: rest[1], resource: 'namespaces', name: rest[1], metric: rest[3] };
  if (rest.length === 3)
    return { kind: 'metric', version, namespace: undefined, resource: rest[0], name: rest[1], metric: rest[2] };
  return undefined;
}

/** What to ask the authorizer for a metric read (as the API server's request info has it). */
export function attributesOf(r: Extract<Route, { kind: 'metric' }>): ResourceAttributes {
  return {
    namespace: r.namespace,
    verb: 'get',
    group: GROUP,
    version: r.version,
    resource: r.resource,
    subresource: r.metric,
    name: r.name,
  };
}

export interface MetricsApiSource {
  /** The pods known (the adapter's informer cache). */
  pods(): PodObject[];
  store: SampleStore;
  /** The window of an API (autoscaling.window), ms. */
  windowMs(namespace: string, api: string): number;
  /** The RealtimeAPIs known and their request windows: the object metrics are served with both. */
  apis?: () => ApiObject[];
  requests?: RequestWindows;
  /** AsyncAPIs' queue depths (queue-depth.ts); undefined: the operator has no queue. */
  queueDepths?: QueueDepths;
  now?: () => number;
}

export class MetricsApi {
  private readonly source: MetricsApiSource;

  constructor(source: MetricsApiSource) {
    this.source = source;
  }

  answer(r: Route, query: URLSearchParams): Answer {
    if (r.kind === 'group') {
      const versions = VERSIONS.map((v) => ({ groupVersion: `${GROUP}/${v}`, version: v }));
      return {
        status: 200,
        body: { kind: 'APIGroup', apiVersion: 'v1', name: GROUP, versions, preferredVersion: versions[0] },
      };
    }
    if (r.kind === 'discovery') {
      return {
        status: 200,
        body: {
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion: `${GROUP}/${r.version}`,
          resources: [
            `pods/${IN_FLIGHT_METRIC}`,
            ...(this.source.requests ? Object.keys(REQUEST_METRICS).map((m) => `${REALTIME_API_RESOURCE}/${m}`) : []),
            ...(this.source.queueDepths ? [QUEUE_DEPTH_RESOURCE] : []),
          ].map((name) => ({ name, singularName: '', namespaced: true, kind: 'MetricValueList', verbs: ['get'] })),
        },
      };
    }
    return this.metric(r, query);
  }

  private metric(r: Extract<Route, { kind: 'metric' }>, query: URLSearchParams): Answer {
    const { requests, apis } = this.source;
    if (r.resource === REALTIME_API_RESOURCE && r.metric in REQUEST_METRICS && requests && apis)
      return this.objectMetric(r, query, requests, apis());
    if (r.metric === QUEUE_DEPTH_METRIC)
      return answerQueueDepth(r, this.source.queueDepths, (what) => notFoundMetric(r.metric, what));
    if (r.resource !== 'pods' || r.metric !== IN_FLIGHT_METRIC) return notFoundMetric(r.metric, r.resource);
    if (r.namespace === undefined)
      return status(
        404,
        'NotFound',
        `pods are namespaced: ask for ${IN_FLIGHT_METRIC} under /namespaces/{namespace}/pods/`,
      );
    let podSelector: Selector;
    let metricSelector: Selector;
    try {
      podSelector = parseSelector(query.get('labelSelector') ?? '');
      metricSelector = parseSelector(query.get('metricLabelSelector') ?? '');
    } catch (error) {
      return status(400, 'BadRequest', `invalid selector: ${error instanceof Error ? error.message : String(error)}`);
    }
    const namespace = r.namespace;
    const now = (this.source.now ?? Date.now)();
    // the metric has no labels of its own: a metric selector that requires one matches nothing
    const metricMatches = matches(metricSelector, {});
    const items: { name: string; item: object }[] = [];
    const pods = this.source
      .pods()
      .filter(
        (p) =>
          p.metadata?.namespace === namespace &&
          (r.name === '*' ? matches(podSelector, p.metadata?.labels) : p.metadata?.name === r.name),
      );
    for (const pod of metricMatches ? pods : []) {
      const name = pod.metadata?.name ?? '';
      const api = pod.metadata?.labels?.[API_LABEL];
      if (!api) continue;
      const avg = this.source.store.average(namespace, name, this.source.windowMs(namespace, api), now);
      if (avg === undefined) continue;
      const describedObject = { kind: 'Pod', namespace, name, apiVersion: 'v1' };
      const common = {
        timestamp: rfc3339(avg.timestamp),
        windowSeconds: avg.windowSeconds,
        value: metricQuantity(avg.value),
      };
      const item =
        r.version === 'v1beta2'
          ? { describedObject, metric: { name: IN_FLIGHT_METRIC }, ...common }
          : { describedObject, metricName: IN_FLIGHT_METRIC, ...common };
      items.push({ name, item });
    }
    if (r.name !== '*' && items.length === 0) return notFoundMetric(IN_FLIGHT_METRIC, `pods ${namespace}/${r.name}`);
    items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return {
      status: 200,
      body: {
        kind: 'MetricValueList',
        apiVersion: `${GROUP}/${r.version}`,
        metadata: {},
        items: items.map((i) => i.item),
      },
    };
  }

  private objectMetric(
    r: Extract<Route, { kind: 'metric' }>,
    query: URLSearchParams,
    requests: RequestWindows,
    apis: ApiObject[],
  ): Answer {
    if (r.namespace === undefined)
      return status(404, 'NotFound', `${REALTIME_API_RESOURCE} are namespaced: ask under /namespaces/{namespace}/`);
    let selector: Selector;
    try {
      selector = parseSelector(query.get('labelSelector') ?? '');
      // the metrics have no labels of their own: a metric selector that requires one matches nothing
      if (!matches(parseSelector(query.get('metricLabelSelector') ?? ''), {}))
        return {
          status: 200,
          body: { kind: 'MetricValueList', apiVersion: `${GROUP}/${r.version}`, metadata: {}, items: [] },
        };
    } catch (error) {
      return status(400, 'BadRequest', `invalid selector: ${error instanceof Error ? error.message : String(error)}`);
    }
    const now = (this.source.now ?? Date.now)();
    const answer = objectMetricItems(r.version, r.namespace, r.name, r.metric, selector, apis, requests, now);
    if ('notFound' in answer) return notFoundMetric(r.metric, answer.notFound);
    return {
      status: 200,
      body: { kind: 'MetricValueList', apiVersion: `${GROUP}/${r.version}`, metadata: {}, items: answer.items },
    };
  }
}
