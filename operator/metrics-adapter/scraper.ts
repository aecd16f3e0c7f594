// Samples every ready replica's /metrics about once a second into the SampleStore. Which pods
// exist comes from an Informer (list+watch, no polling of the API server); the pods are those
// the operator labels cortex.dev/api, scraped on the port and path their
// prometheus.io/* annotations name (the operator sets 8888 and /metrics).
//
// Each round starts a scrape for every ready pod whose previous scrape has finished, oldest
// first, at most maxConcurrent at a time: a slow replica delays only itself, and a cluster
// with more replicas than fit in a round is covered over the next rounds.

import type { V1Pod } from '@kubernetes/client-node';
import { parseDurationMs, type RealtimeApi } from '../api/v1alpha1/index.ts';
import { objectKey, type Informer } from '../controller/informer.ts';
import { errorMessage } from '../util/errors.ts';
import type { KubeObject } from '../kube/client.ts';
import type { Logger } from '../util/log.ts';
import { RUNTIME_PORT } from '../reconcilers/deployment.ts';
import { API_LABEL } from '../reconcilers/types.ts';
import type { RequestWindows } from './request-window.ts';
import type { SampleStore } from './samples.ts';
import { parseScrape } from './scrape-parse.ts';

export type PodObject = V1Pod & KubeObject;
export type ApiObject = RealtimeApi & KubeObject;

/** autoscaling.window's default (the CRD fills it in; this covers objects written before it had one). */
export const DEFAULT_WINDOW_MS = 60_000;

export interface ScraperOptions {
  pods: Informer<PodObject>;
  apis: Informer<ApiObject>;
  store: SampleStore;
  /** Where each scrape's request counters go (`cortex get API`'s last minutes). */
  requests?: RequestWindows;
  log: Logger;
  /** Time between rounds. Default 1 s. */
  intervalMs?: number;
  /** A scrape that takes longer fails. Default 2 s. */
  timeoutMs?: number;
  /** Scrapes in flight at once. Default 64. */
  maxConcurrent?: number;
  /** Told of every scrape (the operator's metrics). */
  onScrape?: (result: 'success' | 'error', seconds: number) => void;
  now?: () => number;
}

/** Where a pod's metrics are, when it is a ready Cortex replica. */
export function scrapeTarget(pod: PodObject): { url: string; api: string } | undefined {
  const api = pod.metadata?.labels?.[API_LABEL];
  const ip = pod.status?.podIP;
  if (!api || !ip || pod.metadata?.deletionTimestamp || pod.status?.phase !== 'Running') return undefined;
  if (!(pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')) return undefined;
  const annotations = pod.metadata?.annotations ?? {};
  const port = Number(annotations['prometheus.io/port'] ?? RUNTIME_PORT);
  const path = annotations['prometheus.io/path'] ?? '/metrics';
  if (!Number.isInteger(port) || port <= 0 || port > 65535 || !path.startsWith('/')) return undefined;
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return { url: `http://${host}:${port}${path}`, api };
}

interface PodState {
  lastAttempt: number;
  busy: boolean;
  failing: boolean;
}

export class Scraper {
  private readonly options: ScraperOptions;
  private readonly state = new Map<string, PodState>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private readonly running = new Set<Promise<void>>();

  constructor(options: ScraperOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    const { pods, apis, store } = options;
    pods.on('delete', (p) => {
      this.state.delete(objectKey(p));
      store.forgetPod(p.metadata?.namespace ?? '', p.metadata?.name ?? '');
    });
    pods.on('update', (p) => {
      // a pod that stopped being ready keeps its samples for the HPA's view of the window, but a
      // terminating one is going: its in-flight requests are drained elsewhere
      if (p.metadata?.deletionTimestamp) store.forgetPod(p.metadata.namespace ?? '', p.metadata.name ?? '');
    });
    apis.on('add', (a) => store.track(a.metadata.namespace, a.metadata.name, this.now()));
    apis.on('delete', (a) => {
      store.forgetApi(a.metadata.namespace, a.metadata.name);
      options.requests?.forgetApi(a.metadata.namespace, a.metadata.name);
    });
  }

  /** The API's autoscaling.window in ms (the default when the API or the field is unknown). */
  windowMs(namespace: string, api: string): number {
    const window = this.options.apis.get(`${namespace}/${api}`)?.spec?.autoscaling?.window;
    if (typeof window !== 'string') return DEFAULT_WINDOW_MS;
    try {
      return parseDurationMs(window) || DEFAULT_WINDOW_MS;
    } catch {
      return DEFAULT_WINDOW_MS;
    }
  }

  start(): void {
    if (this.timer) return;
    const interval = this.options.intervalMs ?? 1000;
    this.timer = setInterval(() => void this.round(), interval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.running]);
  }

  /** Starts the scrapes of one round; resolves when they have all finished (tests). */
  async round(): Promise<void> {
    const max = this.options.maxConcurrent ?? 64;
    const due: { key: string; pod: PodObject; target: { url: string; api: string }; state: PodState }[] = [];
    for (const pod of this.options.pods.list()) {
      const target = scrapeTarget(pod);
      if (!target) continue;
      const key = objectKey(pod);
      let state = this.state.get(key);
      if (!state) this.state.set(key, (state = { lastAttempt: 0, busy: false, failing: false }));
      if (!state.busy) due.push({ key, pod, target, state });
    }
    due.sort((a, b) => a.state.lastAttempt - b.state.lastAttempt);
    const started: Promise<void>[] = [];
    for (const d of due) {
      if (this.inFlight >= max) break;
      const p = this.scrape(d.pod, d.target, d.state);
      this.running.add(p);
      void p.finally(() => this.running.delete(p));
      started.push(p);
    }
    await Promise.all(started);
  }

  private async scrape(pod: PodObject, target: { url: string; api: string }, state: PodState): Promise<void> {
    const { log, store, onScrape } = this.options;
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    state.busy = true;
    state.lastAttempt = this.now();
    this.inFlight++;
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const res = await fetch(target.url, {
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 2000),
        headers: { accept: 'text/plain' },
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const scraped = parseScrape(text);
      // a pod deleted, or terminating, while its scrape ran must not come back
      const current = this.options.pods.get(`${namespace}/${name}`);
      if (current === undefined || scrapeTarget(current) === undefined) return;
      const at = this.now();
      const { counts, ...sample } = scraped;
      store.record(namespace, name, target.api, { at, ...sample }, this.windowMs(namespace, target.api));
      const startTime = current.status?.startTime;
      this.options.requests?.record(
        namespace,
        target.api,
        name,
        at,
        counts,
        startTime ? new Date(startTime).getTime() : undefined,
      );
      onScrape?.('success', seconds());
      if (state.failing) log.info('metrics scrape works again', { pod: `${namespace}/${name}`, url: target.url });
      state.failing = false;
    } catch (error) {
      onScrape?.('error', seconds());
      const fields = { pod: `${namespace}/${name}`, url: target.url, error: errorMessage(error) };
      // once per failing streak at warn: a replica that is still starting fails a few times
      if (!state.failing)
        log.warn(
          'metrics scrape failed; the pod has no cortex_in_flight_requests until one works ' +
            '(the operator must reach pods on their metrics port)',
          fields,
        );
      else log.debug('metrics scrape failed', fields);
      state.failing = true;
    } finally {
      state.busy = false;
      this.inFlight--;
    }
  }
}
