// The per-API dashboard: traffic, latency, load against the autoscaling target, replicas, the
// dispatcher's queue and batches, workers, streams and cold starts of the APIs picked in its
// variables. Runtime series come from every replica's /metrics (runtime/metrics.ts, scraped with
// the labels namespace and pod); replicas and the HPA from kube-state-metrics, whose Deployment
// and HPA of an API carry the API's name (operator/reconcilers); cold starts from the operator's
// activator, which counts them for the whole cluster.
import { quantileOf, type DashboardSpec, type PanelSpec } from './grafana.ts';

const SEL = 'namespace=~"$namespace", api=~"$api"';
const RATE = '$__rate_interval';

/** A kube-state-metrics series of the APIs' Deployments or HPAs, relabelled with `api`. */
export function byApi(metric: string, objectLabel: 'deployment' | 'horizontalpodautoscaler', extra = ''): string {
  const sel = `namespace=~"$namespace", ${objectLabel}=~"$api"${extra ? `, ${extra}` : ''}`;
  return `label_replace(${metric}{${sel}}, "api", "$1", "${objectLabel}", "(.*)")`;
}

const quantiles = (metric: string, qs = [0.5, 0.95, 0.99]): { expr: string; legend: string }[] =>
  qs.map((q) => ({
    expr: quantileOf(q, `${metric}_bucket{${SEL}}`, 'api'),
    legend: `{{api}} p${Math.round(q * 100)}`,
  }));

const traffic: PanelSpec[] = [
  {
    title: 'Requests per second by status',
    description: 'Prediction requests answered per second, by API and HTTP status code (cortex_requests_total).',
    unit: 'reqps',
    targets: [
      {
        expr: `sum by (api, status_code) (rate(cortex_requests_total{${SEL}}[${RATE}]))`,
        legend: '{{api}} {{status_code}}',
      },
    ],
  },
  {
    title: 'Error ratio (5xx)',
    description: 'Share of answered requests with a 5xx status: predictor errors, timeouts, over capacity.',
    unit: 'percentunit',
    targets: [
      {
        expr:
          `sum by (api) (rate(cortex_requests_total{${SEL}, status_code=~"5.."}[${RATE}]))` +
          ` / sum by (api) (rate(cortex_requests_total{${SEL}}[${RATE}]))`,
        legend: '{{api}}',
      },
    ],
  },
  {
    title: 'Latency p50 / p95 / p99',
    description:
      'From the request being read to the response written (a stream: to its end), across replicas ' +
      '(cortex_request_duration_seconds).',
    unit: 's',
    targets: quantiles('cortex_request_duration_seconds'),
  },
  {
    title: 'Rejected requests',
    description:
      'Refused before a predictor saw them, by reason: over_capacity (503, max_queue_length), ' +
      'too_large (413), draining (503 while a replica shuts down).',
    unit: 'reqps',
    targets: [
      {
        expr: `sum by (api, reason) (rate(cortex_rejected_requests_total{${SEL}}[${RATE}]))`,
        legend: '{{api}} {{reason}}',
      },
    ],
  },
];

const scaling: PanelSpec[] = [
  {
    title: 'In-flight per replica vs target',
    description:
      'Mean in-flight requests per replica (the autoscaling signal, cortex_in_flight_requests) against the ' +
      "HPA's target (autoscaling.target_replica_concurrency): above the line the HPA adds replicas.",
    unit: 'short',
    targets: [
      { expr: `avg by (api) (cortex_in_flight_requests{${SEL}})`, legend: '{{api}} in flight' },
      {
        expr: byApi(
          'kube_horizontalpodautoscaler_spec_target_metric',
          'horizontalpodautoscaler',
          'metric_name="cortex_in_flight_requests"',
        ),
        legend: '{{api}} target',
      },
    ],
  },
  {
    title: 'Replicas: desired, ready, HPA bounds',
    description:
      "Desired (the Deployment's spec: the HPA's choice, or 0 when scaled to zero), ready (available) " +
      "and the HPA's min and max replicas (kube-state-metrics).",
    unit: 'short',
    targets: [
      { expr: byApi('kube_deployment_spec_replicas', 'deployment'), legend: '{{api}} desired' },
      { expr: byApi('kube_deployment_status_replicas_available', 'deployment'), legend: '{{api}} ready' },
      {
        expr: byApi('kube_horizontalpodautoscaler_spec_min_replicas', 'horizontalpodautoscaler'),
        legend: '{{api}} min',
      },
      {
        expr: byApi('kube_horizontalpodautoscaler_spec_max_replicas', 'horizontalpodautoscaler'),
        legend: '{{api}} max',
      },
    ],
  },
  {
    title: 'Queue length',
    description: 'Requests waiting for a free worker, summed over replicas (cortex_queue_length).',
    unit: 'short',
    targets: [{ expr: `sum by (api) (cortex_queue_length{${SEL}})`, legend: '{{api}}' }],
  },
  {
    title: 'Batch size',
    description:
      'Requests per server-side batch (predictor.server_side_batching): the mean and p99 (cortex_batch_size).',
    unit: 'short',
    targets: [
      {
        expr:
          `sum by (api) (rate(cortex_batch_size_sum{${SEL}}[${RATE}]))` +
          ` / sum by (api) (rate(cortex_batch_size_count{${SEL}}[${RATE}]))`,
        legend: '{{api}} mean',
      },
      {
        expr: quantileOf(0.99, `cortex_batch_size_bucket{${SEL}}`, 'api'),
        legend: '{{api}} p99',
      },
    ],
  },
];

const health: PanelSpec[] = [
  {
    title: 'Worker restarts',
    description:
      'Predictor workers restarted after exiting unexpectedly (cortex_worker_restarts_total), and restarts ' +
      'of the replicas\u2019 containers (kube-state-metrics).',
    unit: 'short',
    targets: [
      {
        expr: `sum by (api) (increase(cortex_worker_restarts_total{${SEL}}[${RATE}]))`,
        legend: '{{api}} workers',
      },
      {
        expr:
          'sum by (api) (label_replace(increase(kube_pod_container_status_restarts_total' +
          `{namespace=~"$namespace", pod=~"($api)-[a-z0-9]+-[a-z0-9]+"}[${RATE}]), ` +
          '"api", "$1", "pod", "(.*)-[a-z0-9]+-[a-z0-9]+"))',
        legend: '{{api}} containers',
      },
    ],
  },
  {
    title: 'Workers ready',
    description: 'Predictor workers initialised and serving, summed over replicas (cortex_workers_ready).',
    unit: 'short',
    targets: [{ expr: `sum by (api) (cortex_workers_ready{${SEL}})`, legend: '{{api}}' }],
  },
  {
    title: 'Models failing to reload',
    description:
      'Models whose newest version could not be downloaded or loaded while an older one serves ' +
      '(cortex_model_reload_failing; the reason is in the logs).',
    unit: 'short',
    targets: [{ expr: `max by (api, model) (cortex_model_reload_failing{${SEL}})`, legend: '{{api}} {{model}}' }],
  },
  {
    title: 'Cold starts (all APIs)',
    description:
      "Wakes from zero by the operator's activator, and the time from an API's first held request to its " +
      'first ready replica (p50, p99). The activator counts these for the whole cluster, not per API.',
    unit: 's',
    targets: [
      {
        expr: quantileOf(0.5, 'cortex_operator_activator_cold_start_seconds_bucket'),
        legend: 'p50',
      },
      {
        expr: quantileOf(0.99, 'cortex_operator_activator_cold_start_seconds_bucket'),
        legend: 'p99',
      },
    ],
  },
];

const streams: PanelSpec[] = [
  {
    title: 'Streams: time to first byte',
    description: 'Streamed answers: from the request being read to the first chunk written (p50/p95/p99).',
    unit: 's',
    targets: quantiles('cortex_stream_first_byte_seconds'),
  },
  {
    title: 'Streams: duration',
    description: 'Streamed answers: from the request being read to the stream ending or the client leaving.',
    unit: 's',
    targets: quantiles('cortex_stream_duration_seconds', [0.5, 0.99]),
  },
  {
    title: 'Open WebSockets',
    description: 'WebSocket connections open, summed over replicas (each also counts as in flight).',
    unit: 'short',
    targets: [{ expr: `sum by (api) (cortex_open_websockets{${SEL}})`, legend: '{{api}}' }],
  },
];

export const apiDashboard: DashboardSpec = {
  uid: 'cortex-api',
  title: 'Cortex / API',
  description: 'One or more Cortex APIs: traffic, latency, autoscaling, queue, batches, workers, streams.',
  variables: [
    { name: 'namespace', label: 'Namespace', query: 'label_values(cortex_in_flight_requests, namespace)', multi: true },
    {
      name: 'api',
      label: 'API',
      query: 'label_values(cortex_in_flight_requests{namespace=~"$namespace"}, api)',
      multi: true,
    },
  ],
  rows: [
    { title: 'Traffic', panels: traffic },
    { title: 'Autoscaling', panels: scaling },
    { title: 'Workers and replicas', panels: health },
    { title: 'Streams and WebSockets', panels: streams.map((p) => ({ ...p, width: 8 })) },
  ],
};
