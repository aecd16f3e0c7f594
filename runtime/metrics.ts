// Prometheus metrics of one replica. Every series carries the API name. Children for the
// per-request series are resolved once and cached: label hashing per request is measurable
// on the hot path. Gauges are read from the dispatcher at scrape time instead of being
// updated on every request.
import client from 'prom-client';
import type { CustomMetricRecord } from './custom-metrics.ts';

/** A model whose newest version could not be downloaded or loaded, while an older one serves. */
export const RELOAD_FAILING_METRIC = 'cortex_model_reload_failing';

export interface GaugeSources {
  inFlight(): number;
  queueLength(): number;
  workersReady(): number;
}

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class RuntimeMetrics {
  readonly registry = new client.Registry();
  private readonly requests: client.Counter<'api' | 'status_code'>;
  private readonly latency: client.Histogram<'api'>;
  private readonly latencyChild: client.Histogram.Internal<'api'>;
  private readonly batchSize: client.Histogram<'api'>;
  private readonly firstByteChild: client.Histogram.Internal<'api'>;
  private readonly streamChild: client.Histogram.Internal<'api'>;
  private readonly rejected: client.Counter<'api' | 'reason'>;
  private readonly restarts: client.Counter<'api'>;
  private readonly reloadFailing: client.Gauge<'api' | 'model'>;
  private readonly byStatus = new Map<number, client.Counter.Internal>();
  private readonly api: string;

  constructor(api: string, sources: GaugeSources) {
    this.api = api;
    const registers = [this.registry];
    this.requests = new client.Counter({
      name: 'cortex_requests_total',
      help: 'Prediction requests answered, by HTTP status code.',
      labelNames: ['api', 'status_code'],
      registers,
    });
    this.latency = new client.Histogram({
      name: 'cortex_request_duration_seconds',
      help: 'Time from the request being read to the response being written.',
      labelNames: ['api'],
      buckets: latencyBuckets,
      registers,
    });
    this.latencyChild = this.latency.labels({ api });
    this.firstByteChild = new client.Histogram({
      name: 'cortex_stream_first_byte_seconds',
      help: 'Streamed answers: time from the request being read to its first chunk being written.',
      labelNames: ['api'],
      buckets: latencyBuckets,
      registers,
    }).labels({ api });
    this.streamChild = new client.Histogram({
      name: 'cortex_stream_duration_seconds',
      help: 'Streamed answers: time from the request being read to the stream ending (or the client leaving).',
      labelNames: ['api'],
      buckets: [...latencyBuckets, 60, 120, 300, 600],
      registers,
    }).labels({ api });
    this.batchSize = new client.Histogram({
      name: 'cortex_batch_size',
      help: 'Number of requests in each server-side batch sent to a worker.',
      labelNames: ['api'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    });
    this.rejected = new client.Counter({
      name: 'cortex_rejected_requests_total',
      help: 'Requests refused before reaching a predictor (over_capacity: 503, too_large: 413, draining: 503).',
      labelNames: ['api', 'reason'],
      registers,
    });
    this.restarts = new client.Counter({
      name: 'cortex_worker_restarts_total',
      help: 'Predictor workers restarted after they exited unexpectedly.',
      labelNames: ['api'],
      registers,
    });
    this.reloadFailing = new client.Gauge({
      name: RELOAD_FAILING_METRIC,
      help:
        '1 while the newest version of a model (label model: its name, (path) or (dir)) could not be downloaded ' +
        'or loaded and an older one keeps serving; the reason is in the logs.',
      labelNames: ['api', 'model'],
      registers,
    });
    const gauge = (name: string, help: string, read: () => number) =>
      new client.Gauge({
        name,
        help,
        labelNames: ['api'],
        registers,
        collect() {
          this.set({ api }, read());
        },
      });
    gauge(
      'cortex_in_flight_requests',
      'Requests admitted and not yet answered (queued or being predicted); the autoscaling signal.',
      sources.inFlight,
    );
    gauge('cortex_queue_length', 'Requests waiting for a free worker.', sources.queueLength);
    gauge(
      'cortex_workers_ready',
      'Predictor workers that finished initialising and are serving.',
      sources.workersReady,
    );
    // Zero-valued series exist from the start, so rate() and increase() see the first event
    // (labels() alone makes no sample in prom-client; inc by 0 does).
    this.rejected.inc({ api, reason: 'over_capacity' }, 0);
    this.restarts.inc({ api }, 0);
  }

  modelReloadFailing(model: string, failing: boolean): void {
    this.reloadFailing.set({ api: this.api, model }, failing ? 1 : 0);
  }

  /** The workers' records of the runtime's own gauges applied; the predictor's (metrics_client) returned. */
  takeOwn(records: CustomMetricRecord[]): CustomMetricRecord[] {
    return records.filter(([, name, value, tags]) => {
      if (name !== RELOAD_FAILING_METRIC) return true;
      this.modelReloadFailing(tags?.model ?? '', value === 1);
      return false;
    });
  }

  observeRequest(status: number, seconds: number): void {
    let child = this.byStatus.get(status);
    if (child === undefined) {
      child = this.requests.labels({ api: this.api, status_code: String(status) });
      this.byStatus.set(status, child);
    }
    child.inc();
    this.latencyChild.observe(seconds);
  }

  /** A streamed answer's first chunk went out. */
  observeFirstByte(seconds: number): void {
    this.firstByteChild.observe(seconds);
  }

  /** A streamed answer ended. */
  observeStream(seconds: number): void {
    this.streamChild.observe(seconds);
  }

  observeBatch(size: number): void {
    this.batchSize.observe({ api: this.api }, size);
  }

  reject(reason: 'over_capacity' | 'too_large' | 'draining'): void {
    this.rejected.inc({ api: this.api, reason });
  }

  workerRestarted(): void {
    this.restarts.inc({ api: this.api });
  }

  contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
