// The operator's own Prometheus metrics (served on the health port at /metrics): reconciles by
// result, their errors and duration, the work queue's depth, watch restarts, writes of children
// by verb, Events emitted, and whether this process is the leader. One registry per process
// (tests may create several).

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface OperatorMetrics {
  registry: Registry;
  /** result: success | requeue | error */
  reconciles: Counter<'result'>;
  reconcileErrors: Counter;
  reconcileDuration: Histogram<'result'>;
  /** Read from the queue when scraped (queueDepthSource). */
  queueDepth: Gauge;
  queueDepthSource: () => number;
  watchRestarts: Counter<'resource' | 'reason'>;
  /** verb: create | apply; kind: Deployment, Service, HorizontalPodAutoscaler, RealtimeAPI (status) */
  writes: Counter<'kind' | 'verb'>;
  events: Counter<'type' | 'reason'>;
  leader: Gauge;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): OperatorMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'cortex_operator_' });
  const registers = [registry];
  const m: OperatorMetrics = {
    registry,
    reconciles: new Counter({
      name: 'cortex_operator_reconciles_total',
      help: 'Reconciles of RealtimeAPIs by result (success, requeue, error)',
      labelNames: ['result'],
      registers,
    }),
    reconcileErrors: new Counter({
      name: 'cortex_operator_reconcile_errors_total',
      help: 'Reconciles that failed (retried with backoff)',
      registers,
    }),
    reconcileDuration: new Histogram({
      name: 'cortex_operator_reconcile_duration_seconds',
      help: 'Duration of one reconcile',
      labelNames: ['result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'cortex_operator_workqueue_depth',
      help: 'Keys queued and not yet handed to a worker',
      registers,
      collect() {
        this.set(m.queueDepthSource());
      },
    }),
    queueDepthSource: () => 0,
    watchRestarts: new Counter({
      name: 'cortex_operator_watch_restarts_total',
      help: 'Watches started again after one ended (timeout, idle, expired, error)',
      labelNames: ['resource', 'reason'],
      registers,
    }),
    writes: new Counter({
      name: 'cortex_operator_writes_total',
      help: 'Write requests to the API server by kind and verb',
      labelNames: ['kind', 'verb'],
      registers,
    }),
    events: new Counter({
      name: 'cortex_operator_events_total',
      help: 'Kubernetes Events emitted on RealtimeAPIs',
      labelNames: ['type', 'reason'],
      registers,
    }),
    leader: new Gauge({
      name: 'cortex_operator_leader',
      help: '1 while this process holds the leader Lease (or runs without leader election)',
      registers,
    }),
  };
  return m;
}
