// The cluster view: every API side by side (traffic, errors, p99, load, replicas), then the
// operator itself: reconciles, its work queue, the activator's holds and cold starts, and the
// built-in metrics API's scrapes of the replicas (operator/metrics.ts, operator/activator,
// operator/metrics-adapter, scraped through the chart's metrics Service or ServiceMonitor).
import { quantileOf, type DashboardSpec, type PanelSpec } from './grafana.ts';

const NS = 'namespace=~"$namespace"';
const RATE = '$__rate_interval';
/** The HPAs the operator made: the only ones that scale on cortex_in_flight_requests, named as their API. */
const CORTEX_DEPLOYMENTS =
  'label_replace(kube_horizontalpodautoscaler_spec_target_metric{metric_name="cortex_in_flight_requests"}, ' +
  '"deployment", "$1", "horizontalpodautoscaler", "(.*)")';

const apis: PanelSpec[] = [
  {
    title: 'Requests per second',
    description: 'Prediction requests answered per second by each API, every status.',
    unit: 'reqps',
    targets: [
      {
        expr: `sum by (namespace, api) (rate(cortex_requests_total{${NS}}[${RATE}]))`,
        legend: '{{namespace}}/{{api}}',
      },
    ],
  },
  {
    title: 'Error ratio (5xx)',
    description: "Share of each API's answers with a 5xx status.",
    unit: 'percentunit',
    targets: [
      {
        expr:
          `sum by (namespace, api) (rate(cortex_requests_total{${NS}, status_code=~"5.."}[${RATE}]))` +
          ` / sum by (namespace, api) (rate(cortex_requests_total{${NS}}[${RATE}]))`,
        legend: '{{namespace}}/{{api}}',
      },
    ],
  },
  {
    title: 'Latency p99',
    description: "Each API's 99th percentile of request duration.",
    unit: 's',
    targets: [
      {
        expr: quantileOf(0.99, `cortex_request_duration_seconds_bucket{${NS}}`, 'namespace, api'),
        legend: '{{namespace}}/{{api}}',
      },
    ],
  },
  {
    title: 'In-flight requests',
    description: 'Requests admitted and not yet answered, summed over each API\u2019s replicas.',
    unit: 'short',
    targets: [{ expr: `sum by (namespace, api) (cortex_in_flight_requests{${NS}})`, legend: '{{namespace}}/{{api}}' }],
  },
  {
    title: 'Ready replicas',
    description:
      "Available replicas of each API's Deployment (kube-state-metrics; Cortex APIs are the Deployments " +
      'whose HPA scales on cortex_in_flight_requests).',
    unit: 'short',
    targets: [
      {
        expr: `kube_deployment_status_replicas_available{${NS}} and on (namespace, deployment) ${CORTEX_DEPLOYMENTS}`,
        legend: '{{namespace}}/{{deployment}}',
      },
    ],
  },
  {
    title: 'Worker restarts',
    description: 'Predictor workers restarted after exiting unexpectedly, per API.',
    unit: 'short',
    targets: [
      {
        expr: `sum by (namespace, api) (increase(cortex_worker_restarts_total{${NS}}[${RATE}]))`,
        legend: '{{namespace}}/{{api}}',
      },
    ],
  },
];

const operator: PanelSpec[] = [
  {
    title: 'Reconciles per second',
    description: 'Reconciles of RealtimeAPIs by result (success, requeue, error).',
    unit: 'ops',
    targets: [{ expr: `sum by (result) (rate(cortex_operator_reconciles_total[${RATE}]))`, legend: '{{result}}' }],
  },
  {
    title: 'Reconcile duration p99 and work queue',
    description: 'p99 of one reconcile, and the keys queued and not yet handed to a worker.',
    unit: 'short',
    targets: [
      {
        expr: quantileOf(0.99, 'cortex_operator_reconcile_duration_seconds_bucket'),
        legend: 'reconcile p99 (s)',
      },
      { expr: 'max(cortex_operator_workqueue_depth)', legend: 'queue depth' },
    ],
  },
  {
    title: 'Leaders',
    description: 'Operator pods holding the leader Lease: 1 in a healthy install.',
    unit: 'short',
    kind: 'stat',
    width: 6,
    targets: [{ expr: 'sum(cortex_operator_leader)', legend: 'leaders' }],
  },
  {
    title: 'Held requests',
    description: 'Requests the activator holds for APIs at zero replicas, waiting for a replica.',
    unit: 'short',
    kind: 'stat',
    width: 6,
    targets: [{ expr: 'sum(cortex_operator_activator_held_requests)', legend: 'held' }],
  },
  {
    title: 'Activator requests and wakes',
    description:
      'Requests the activator received by result (proxied, held_proxied, timeout, not_found, ...), and ' +
      'APIs woken from zero.',
    unit: 'reqps',
    targets: [
      {
        expr: `sum by (result) (rate(cortex_operator_activator_requests_total[${RATE}]))`,
        legend: '{{result}}',
      },
      { expr: `sum(rate(cortex_operator_activator_wakes_total[${RATE}]))`, legend: 'wakes' },
    ],
  },
  {
    title: 'Cold starts',
    description: "From an API's first held request at zero replicas to its first ready replica (p50, p99).",
    unit: 's',
    targets: [0.5, 0.99].map((q) => ({
      expr: quantileOf(q, 'cortex_operator_activator_cold_start_seconds_bucket'),
      legend: `p${q * 100}`,
    })),
  },
  {
    title: 'Metrics API: scrapes of replicas',
    description:
      "The built-in custom metrics API's scrapes of every ready replica's /metrics by result " +
      '(what the HPAs scale on).',
    unit: 'ops',
    targets: [{ expr: `sum by (result) (rate(cortex_operator_metrics_scrapes_total[${RATE}]))`, legend: '{{result}}' }],
  },
];

export const clusterDashboard: DashboardSpec = {
  uid: 'cortex-cluster',
  title: 'Cortex / Cluster',
  description: 'Every Cortex API side by side, and the operator, its activator and its metrics API.',
  variables: [
    { name: 'namespace', label: 'Namespace', query: 'label_values(cortex_in_flight_requests, namespace)', multi: true },
  ],
  rows: [
    { title: 'APIs', panels: apis.map((p) => ({ ...p, width: 8 })) },
    { title: 'Operator', panels: operator },
  ],
};
