// AsyncAPIs scale on their queue (docs/async.md, "In a cluster"): the depth of each AsyncAPI's
// queue, the requests not yet acked (waiting + being worked, runtime/queue's depth(): XLEN and
// XPENDING on Redis), read every interval and served as an Object metric of the RealtimeAPI:
//   GET .../namespaces/{ns}/realtimeapis.cortex.dev/{api}/cortex_async_queue_depth
// The HPA (reconcilers/hpa.ts) targets it with an AverageValue per replica, so it keeps
// ⌈depth / targetReplicaConcurrency⌉ replicas; the scale-to-zero loop reads it as activity.
import type { Broker } from '../../runtime/queue/types.ts';
import { asyncNames } from '../../runtime/async/records.ts';
import { errorMessage } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import type { Answer, Version } from './api.ts';
import { metricQuantity } from './quantity.ts';
import { QUEUE_DEPTH_METRIC } from '../reconcilers/hpa.ts';

export { QUEUE_DEPTH_METRIC };
import type { ApiObject } from './scraper.ts';

/** The resource of the Object metric, as the HPA controller's REST mapping names it in the path. */
import { REALTIME_API_RESOURCE as API_METRIC_RESOURCE } from './request-metrics.ts';

export interface Depth {
  /** Requests not yet acked: queued and not taken, or taken and not finished. */
  value: number;
  /** When it was read (epoch ms). */
  at: number;
}

export interface QueueDepthsOptions {
  broker: Broker;
  /** The RealtimeAPIs known (an informer's cache); those with spec.async are read. */
  apis: () => ApiObject[];
  log: Logger;
  intervalMs?: number;
}

export class QueueDepths {
  private readonly depths = new Map<string, Depth>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failing = false;

  private readonly options: QueueDepthsOptions;

  constructor(options: QueueDepthsOptions) {
    this.options = options;
  }

  start(): void {
    const tick = () => {
      this.running = this.readAll().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(tick, this.options.intervalMs ?? 1000).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    await this.options.broker.close();
  }

  /** The last depth read of an AsyncAPI; undefined before the first read or when the queue is unreachable. */
  get(namespace: string, api: string): Depth | undefined {
    return this.depths.get(`${namespace}/${api}`);
  }

  private async readAll(): Promise<void> {
    const seen = new Set<string>();
    for (const api of this.options.apis()) {
      const { name, namespace } = api.metadata ?? {};
      if (!name || !namespace || !api.spec?.async) continue;
      const key = `${namespace}/${name}`;
      seen.add(key);
      const names = asyncNames(namespace, name);
      try {
        const d = await this.options.broker.depth(names.stream, names.group);
        this.depths.set(key, { value: d.waiting + d.pending, at: Date.now() });
        if (this.failing) this.options.log.info('queue depth: the queue answers again');
        this.failing = false;
      } catch (error) {
        // no value rather than an old one: the HPA holds its replicas while the metric is missing
        this.depths.delete(key);
        if (!this.failing) this.options.log.warn('queue depth: cannot read', { api: key, error: errorMessage(error) });
        this.failing = true;
      }
    }
    for (const key of this.depths.keys()) if (!seen.has(key)) this.depths.delete(key);
  }
}

/** The custom metrics API's answer for the queue depth of one RealtimeAPI. */
export function answerQueueDepth(
  r: { version: Version; namespace: string | undefined; resource: string; name: string },
  depths: QueueDepths | undefined,
  notFound: (what: string) => Answer,
): Answer {
  const gone = notFound(`${API_METRIC_RESOURCE} ${r.namespace ?? ''}/${r.name}`);
  if (r.resource !== API_METRIC_RESOURCE || r.namespace === undefined || r.name === '*') return gone;
  const depth = depths?.get(r.namespace, r.name);
  if (depth === undefined) return gone;
  const describedObject = {
    kind: 'RealtimeAPI',
    namespace: r.namespace,
    name: r.name,
    apiVersion: 'cortex.dev/v1alpha1',
  };
  const common = {
    timestamp: new Date(depth.at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    value: metricQuantity(depth.value),
  };
  const item =
    r.version === 'v1beta2'
      ? { describedObject, metric: { name: QUEUE_DEPTH_METRIC }, ...common }
      : { describedObject, metricName: QUEUE_DEPTH_METRIC, ...common };
  return {
    status: 200,
    body: { kind: 'MetricValueList', apiVersion: `custom.metrics.k8s.io/${r.version}`, metadata: {}, items: [item] },
  };
}

/** Its discovery entry. */
/** The metric's name in discovery (APIResourceList). */
export const QUEUE_DEPTH_RESOURCE = `${API_METRIC_RESOURCE}/${QUEUE_DEPTH_METRIC}`;
