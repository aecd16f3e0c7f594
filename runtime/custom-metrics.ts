// A predictor's own metrics (Cortex 0.30-0.35's metrics_client: increment, gauge, histogram with
// tags), as Prometheus series on the replica's /metrics next to the runtime's, each with the
// API's label. The Python side (runtime/python/cortex_metrics.py) checks names and tags where
// the predictor sees the error; this side checks them again and enforces what Prometheus
// needs across calls: one kind and one tag set per name. A record that breaks a rule, or would
// add a series past the cap, is not exported: it is counted in
// cortex_custom_metrics_dropped_total and logged once per metric and reason, never silently lost.
import client from 'prom-client';
import type { JsonLogger } from '../operator/util/log.ts';

export type CustomMetricKind = 'counter' | 'gauge' | 'histogram';

/** One call as the worker sends it: [kind, name, value, tags or null]. */
export type CustomMetricRecord = [CustomMetricKind, string, number, Record<string, string> | null];

/** Series (tag combinations) one custom metric may have; more would let a tag holding an id eat the memory. */
export const MAX_SERIES_PER_METRIC = 1000;
/** Custom metrics one API may have. */
export const MAX_METRICS = 200;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TAG = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RESERVED_TAGS = new Set(['api', 'le', 'quantile']);

type DropReason = 'invalid' | 'kind_changed' | 'tags_changed' | 'too_many_series' | 'too_many_metrics';

interface Entry {
  kind: CustomMetricKind;
  /** Tag names, sorted, fixed by the first call. */
  tags: string[];
  metric: client.Counter<string> | client.Gauge<string> | client.Histogram<string>;
  series: Set<string>;
}

export class CustomMetrics {
  private readonly registry: client.Registry;
  private readonly api: string;
  private readonly logger: JsonLogger;
  private readonly metrics = new Map<string, Entry>();
  private readonly dropped: client.Counter<'api' | 'reason'>;
  private readonly warned = new Set<string>();

  constructor(registry: client.Registry, api: string, logger: JsonLogger) {
    this.registry = registry;
    this.api = api;
    this.logger = logger;
    this.dropped = new client.Counter({
      name: 'cortex_custom_metrics_dropped_total',
      help: "Predictor metrics_client records not exported: invalid, a name's kind or tags changed, or past a cap.",
      labelNames: ['api', 'reason'],
      registers: [registry],
    });
  }

  record(records: readonly CustomMetricRecord[]): void {
    for (const r of records) this.one(r);
  }

  private one([kind, name, value, tags]: CustomMetricRecord): void {
    const tagNames = tags === null ? [] : Object.keys(tags).sort();
    if (
      !NAME.test(name) ||
      name.startsWith('cortex_') ||
      !Number.isFinite(value) ||
      (kind === 'counter' && value < 0) ||
      !['counter', 'gauge', 'histogram'].includes(kind) ||
      tagNames.some((t) => !TAG.test(t) || t.startsWith('__') || RESERVED_TAGS.has(t))
    ) {
      return this.drop(name, 'invalid', `a ${kind} named ${JSON.stringify(name)} with value ${value}`);
    }
    let entry = this.metrics.get(name);
    if (entry === undefined) {
      if (this.metrics.size >= MAX_METRICS) {
        return this.drop(name, 'too_many_metrics', `this API already exports ${MAX_METRICS} custom metrics`);
      }
      entry = this.create(kind, name, tagNames);
      this.metrics.set(name, entry);
    }
    if (entry.kind !== kind) {
      return this.drop(name, 'kind_changed', `it was first used as a ${entry.kind}, now as a ${kind}`);
    }
    if (entry.tags.join(',') !== tagNames.join(',')) {
      return this.drop(
        name,
        'tags_changed',
        `its tags were [${entry.tags.join(', ')}] at first, now [${tagNames.join(', ')}]: ` +
          'Prometheus needs the same tag names on every call',
      );
    }
    const labels: Record<string, string> = { api: this.api };
    for (const t of tagNames) labels[t] = tags![t];
    const key = tagNames.map((t) => labels[t]).join('\u0000');
    if (!entry.series.has(key)) {
      if (entry.series.size >= MAX_SERIES_PER_METRIC) {
        return this.drop(name, 'too_many_series', `it has ${MAX_SERIES_PER_METRIC} tag combinations already`);
      }
      entry.series.add(key);
    }
    if (kind === 'counter') (entry.metric as client.Counter<string>).inc(labels, value);
    else if (kind === 'gauge') (entry.metric as client.Gauge<string>).set(labels, value);
    else (entry.metric as client.Histogram<string>).observe(labels, value);
  }

  private create(kind: CustomMetricKind, name: string, tags: string[]): Entry {
    const options = {
      name,
      help: `${kind} recorded by the predictor through metrics_client`,
      labelNames: ['api', ...tags],
      registers: [this.registry],
    };
    const metric =
      kind === 'counter'
        ? new client.Counter(options)
        : kind === 'gauge'
          ? new client.Gauge(options)
          : new client.Histogram(options);
    return { kind, tags, metric, series: new Set() };
  }

  private drop(name: string, reason: DropReason, why: string): void {
    this.dropped.inc({ api: this.api, reason });
    const once = `${name}\u0000${reason}`;
    if (this.warned.has(once) || this.warned.size > MAX_METRICS) return;
    this.warned.add(once);
    this.logger.warn(`metrics_client: ${JSON.stringify(name)} not exported (${reason}): ${why}`, {
      metric: name,
      reason,
    });
  }
}
