// The built-in metrics adapter: the operator process serves custom.metrics.k8s.io for
// cortex_in_flight_requests, so the HPAs it writes work with nothing else installed (no
// Prometheus, no prometheus-adapter). Every replica of the operator runs one, leader or not:
// the APIService's Service may send the API server to any of them, and each scrapes the pods
// itself (its own informers, independent of the controller's, which run on the leader only).
//
// Pieces: scraper.ts (pods' /metrics → samples.ts), api.ts (routes and answers), authn.ts /
// authz.ts (front-proxy client certificates, SubjectAccessReviews), server.ts (HTTPS),
// manifests.ts (the APIService and Service a chart installs).

import type { AddressInfo } from 'node:net';
import { Counter, Histogram, type Registry } from 'prom-client';
import { type Informer, type InformerOptions } from '../controller/informer.ts';
import { errorMessage } from '../util/errors.ts';
import { cortexInformers, type CortexInformers } from '../controller/cortex-informers.ts';
import type { KubeClient, KubeObject } from '../kube/client.ts';
import type { Logger } from '../util/log.ts';
import { deferred, untilAborted, type Runnable } from '../manager/runnable.ts';
import { MetricsApi } from './api.ts';
import { loadRequestHeaderConfig, type RequestHeaderConfig } from './authn.ts';
import { subjectAccessReviewAuthorizer, type Authorizer } from './authz.ts';
import { RequestWindows } from './request-window.ts';
import { SampleStore, type ApiActivity } from './samples.ts';
import { Scraper, type ApiObject, type PodObject } from './scraper.ts';
import { openBroker } from '../../runtime/queue/open.ts';
import { QueueDepths } from './queue-depth.ts';
import { createMetricsServer, selfSignedCert, type ServingCert } from './server.ts';

export { metricsApiObjects, METRICS_API_SERVICE } from './manifests.ts';
export { idleForMs, type ApiActivity } from './samples.ts';
export { metricsAdapterRbac } from './rbac.ts';

/** The port the operator serves the metrics API on (prometheus-adapter's, the APIService's target). */
export const DEFAULT_METRICS_API_PORT = 6443;

export interface MetricsAdapterOptions {
  client: KubeClient;
  log: Logger;
  /** Scrape only this namespace's APIs (the operator's --namespace). Default: all. */
  namespace?: string;
  port: number;
  /** Default: every address. */
  host?: string;
  /** The serving certificate; default: a self-signed one made now. */
  cert?: ServingCert;
  /** DNS names the self-signed certificate carries besides localhost (e.g. the Service's). */
  certDnsNames?: string[];
  /** Where the adapter's own metrics go (the operator's registry). */
  registry?: Registry;
  scrapeIntervalMs?: number;
  scrapeTimeoutMs?: number;
  /** A replica's failing model reloads changed (cortex_model_reload_failing): its API's status is derived again. */
  onReloadChange?: (namespace: string, api: string) => void;
  /** Default: SubjectAccessReviews. */
  authorizer?: Authorizer;
  /** How often the front-proxy ConfigMap is read again (CA rotation). Default 1 min. */
  requestHeaderRefreshMs?: number;
  informer?: Pick<InformerOptions<KubeObject>, 'idleTimeoutMs' | 'watchTimeoutSeconds' | 'backoff'>;
  /** The AsyncAPIs' queue (--queue-url): their depths are served too (queue-depth.ts). */
  queueUrl?: string;
  /** Caches shared with the rest of the process; their owner starts and stops them. Default: its own. */
  informers?: CortexInformers;
}

export interface MetricsAdapter {
  /** Resolves with the bound port once the server listens (after the front proxy's CA was read). */
  listening: Promise<number>;
  /** Requests and in-flight requests of one API as last scraped, and when it last served (scale to zero). */
  activity(namespace: string, api: string): ApiActivity | undefined;
  /** An AsyncAPI's queue depth as last read (undefined: no queue, or not read yet). */
  queueDepth(namespace: string, api: string): number | undefined;
  stop(): Promise<void>;
}

/** The adapter as the operator's manager runs it: on every replica, from start(signal) until the signal aborts. */
export interface MetricsAdapterRunnable extends Runnable {
  /** Resolves with the bound port once the server listens; rejects if it never will. */
  listening: Promise<number>;
  activity(namespace: string, api: string): ApiActivity | undefined;
  queueDepth(namespace: string, api: string): number | undefined;
}

export function metricsAdapterRunnable(options: MetricsAdapterOptions): MetricsAdapterRunnable {
  let adapter: MetricsAdapter | undefined;
  const listening = deferred<number>();
  listening.promise.catch(() => undefined); // startMetricsAdapter logs it; a caller may not listen
  return {
    name: 'metrics API',
    needsLeader: false,
    listening: listening.promise,
    activity: (ns, name) => adapter?.activity(ns, name),
    queueDepth: (ns, name) => adapter?.queueDepth(ns, name),
    async start(signal) {
      adapter = startMetricsAdapter(options);
      adapter.listening.then(listening.resolve, listening.reject);
      await untilAborted(signal);
      await adapter.stop();
    },
  };
}

export function startMetricsAdapter(options: MetricsAdapterOptions): MetricsAdapter {
  const { client, log, namespace, registry } = options;
  const own = options.informers === undefined;
  const { pods, apis } = (options.informers ??
    cortexInformers({ client, log, namespace, informer: options.informer })) as unknown as {
    pods: Informer<PodObject>;
    apis: Informer<ApiObject>;
  };
  const store = new SampleStore(options.onReloadChange);
  const requestWindows = new RequestWindows();
  const registers = registry ? [registry] : [];
  const scrapes = new Counter({
    name: 'cortex_operator_metrics_scrapes_total',
    help: "Scrapes of replicas' /metrics by result (success, error)",
    labelNames: ['result'],
    registers,
  });
  const scrapeSeconds = new Histogram({
    name: 'cortex_operator_metrics_scrape_duration_seconds',
    help: 'Duration of one scrape of a replica',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
    registers,
  });
  const requests = new Counter({
    name: 'cortex_operator_metrics_api_requests_total',
    help: 'Requests to the custom metrics API by HTTP status code',
    labelNames: ['code'],
    registers,
  });
  const scraper = new Scraper({
    pods,
    apis,
    store,
    requests: requestWindows,
    log,
    intervalMs: options.scrapeIntervalMs,
    timeoutMs: options.scrapeTimeoutMs,
    onScrape: (result, seconds) => {
      scrapes.inc({ result });
      scrapeSeconds.observe(seconds);
    },
  });
  const queueDepths =
    options.queueUrl === undefined
      ? undefined
      : new QueueDepths({
          broker: openBroker(options.queueUrl, { failFast: true }),
          apis: () => apis.list(),
          log,
          intervalMs: options.scrapeIntervalMs,
        });
  const api = new MetricsApi({
    pods: () => pods.list(),
    store,
    windowMs: (ns, name) => scraper.windowMs(ns, name),
    apis: () => apis.list(),
    requests: requestWindows,
    queueDepths,
  });
  const authorize = options.authorizer ?? subjectAccessReviewAuthorizer(client);

  if (own) {
    pods.start();
    apis.start();
  }
  scraper.start();
  queueDepths?.start();

  let stopped = false;
  let server: ReturnType<typeof createMetricsServer> | undefined;
  let refresh: NodeJS.Timeout | undefined;
  let requestHeader: RequestHeaderConfig | undefined;

  const readConfig = async (): Promise<RequestHeaderConfig> => {
    for (let delay = 1000; ; delay = Math.min(delay * 2, 30_000)) {
      try {
        return await loadRequestHeaderConfig(client);
      } catch (error) {
        if (stopped) throw error;
        log.warn("metrics API: cannot read the front proxy's settings; not serving until it can", {
          error: errorMessage(error),
          retryInMs: delay,
        });
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  };

  const listening = (async () => {
    const cert = options.cert ?? (await selfSignedCert(options.certDnsNames));
    requestHeader = await readConfig();
    if (stopped) throw new Error('the metrics adapter was stopped');
    const config = () => requestHeader!;
    server = createMetricsServer({
      cert,
      api,
      authorize,
      requestHeader: config,
      log,
      onRequest: (code) => requests.inc({ code: String(code) }),
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(options.port, options.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    log.info('metrics API serving', {
      group: 'custom.metrics.k8s.io',
      port,
      host: options.host ?? '(all)',
      selfSignedCert: options.cert === undefined,
      allowedNames: requestHeader.allowedNames,
    });
    refresh = setInterval(() => {
      loadRequestHeaderConfig(client).then(
        (next) => {
          if (next.clientCA !== requestHeader?.clientCA) {
            server?.setClientCA(next.clientCA);
            log.info("metrics API: the front proxy's CA changed; new connections use it");
          }
          requestHeader = next;
        },
        (error: unknown) =>
          log.warn("metrics API: re-reading the front proxy's settings failed; keeping the last ones", {
            error: errorMessage(error),
          }),
      );
    }, options.requestHeaderRefreshMs ?? 60_000);
    refresh.unref();
    return port;
  })();
  listening.catch((error: unknown) => {
    if (!stopped) log.error('metrics API: not serving', { error: errorMessage(error) });
  });

  return {
    listening,
    activity: (ns, name) => store.activity(ns, name),
    queueDepth: (ns, name) => queueDepths?.get(ns, name)?.value,
    async stop() {
      stopped = true;
      if (refresh) clearInterval(refresh);
      await new Promise<void>((resolve) => (server?.listening ? server.close(() => resolve()) : resolve()));
      server?.closeAllConnections();
      await scraper.stop();
      await queueDepths?.stop();
      if (own) await Promise.all([pods.stop(), apis.stop()]);
    },
  };
}
