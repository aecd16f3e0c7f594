// `cortex-operator`: runs the controllers (RealtimeAPIs, TrafficSplitters, BatchJobs, TaskJobs),
// the custom metrics API and the activator, in a cluster (in-cluster config) or out of it
// (KUBECONFIG / ~/.kube/config), until SIGTERM or SIGINT.

import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { Command } from 'commander';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { parseDurationMs, parseMemBytes } from './api/v1alpha1/index.ts';
import type { DependencyCacheConfig } from './reconcilers/types.ts';
import { KubeClient } from './kube/client.ts';
import { operatorLogger, type Logger } from './util/log.ts';
import { configMapPools, filePools, type NodePoolSource } from './node-pools-source.ts';
import { RealtimeApiController } from './realtimeapi-controller.ts';
import { rbacManifests } from './rbac.ts';
import { errorMessage } from './util/errors.ts';
import { HttpMethod } from '@kubernetes/client-node';
import { LeaderElector, defaultIdentity } from './controller/leader.ts';
import { eventRecorder } from './events.ts';
import { createMetrics, type OperatorMetrics } from './metrics.ts';
import { metricsAdapterRunnable, type MetricsAdapterRunnable } from './metrics-adapter/index.ts';
import { cortexInformers, type CortexInformers } from './controller/cortex-informers.ts';
import { activatorRunnable, type ActivatorRunnable } from './activator/index.ts';
import { Manager, startStop } from './manager/manager.ts';
import type { ScaleToZeroStates } from './scale-to-zero/index.ts';
import { routeConfigFromFlags } from './routes/flags.ts';
import { TrafficSplitterController } from './trafficsplitter-controller.ts';
import { BatchJobController } from './batchjob-controller.ts';
import { TaskJobController } from './taskjob-controller.ts';
import { JobApiBundles } from './reconcilers/job-api-bundles.ts';
import { openBroker } from '../runtime/queue/open.ts';
import { addOperatorOptions, type Flags } from './flags.ts';

const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function inCluster(): boolean {
  return process.env.KUBERNETES_SERVICE_HOST !== undefined && existsSync(SA_NAMESPACE_FILE);
}

function operatorNamespace(flag: string | undefined): string {
  if (flag) return flag;
  if (inCluster()) return readFileSync(SA_NAMESPACE_FILE, 'utf8').trim();
  return 'cortex-system';
}

function loadKubeConfig(flags: Flags): KubeConfig {
  const kc = new KubeConfig();
  if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
  else kc.loadFromDefault(); // $KUBECONFIG, ~/.kube/config, or the in-cluster ServiceAccount
  if (flags.context) kc.setCurrentContext(flags.context);
  return kc;
}

/** Kubernetes minor version of the API server (e.g. 37), or undefined when unknown. */
async function serverMinor(client: KubeClient): Promise<number | undefined> {
  const v = await client.request<{ major?: string; minor?: string }>(HttpMethod.GET, '/version');
  const minor = Number.parseInt(v.minor ?? '', 10);
  return Number(v.major) === 1 && Number.isFinite(minor) ? minor : undefined;
}

function healthServer(port: number, ready: () => boolean, metrics: OperatorMetrics, log: Logger): Server {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500).end(`${errorMessage(error)}\n`),
      );
      return;
    }
    if (req.url === '/healthz') return void res.writeHead(200).end('ok\n');
    if (req.url === '/readyz')
      return void res
        .writeHead(ready() ? 200 : 503)
        .end(ready() ? 'ok\n' : 'not ready: caches not synced or the metrics API not serving yet\n');
    res.writeHead(404).end();
  });
  server.listen(port, () => log.info('health endpoints', { port }));
  server.unref();
  return server;
}

/** The custom metrics API the HPAs read cortex_in_flight_requests from (operator/metrics-adapter). */
function metricsAdapter(
  flags: Flags,
  client: KubeClient,
  log: Logger,
  metrics: OperatorMetrics,
  informers: CortexInformers,
  onReloadChange?: (namespace: string, api: string) => void,
): MetricsAdapterRunnable | undefined {
  if (!flags.metricsApi) return undefined;
  if ((flags.metricsApiCertFile === undefined) !== (flags.metricsApiKeyFile === undefined)) {
    throw new Error(
      '--metrics-api-cert-file and --metrics-api-key-file go together: ' +
        'give both, or neither for a self-signed certificate',
    );
  }
  const read = (flag: string, file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new Error(`${flag} ${file}: ${errorMessage(error)}`);
    }
  };
  const cert =
    flags.metricsApiCertFile !== undefined && flags.metricsApiKeyFile !== undefined
      ? {
          cert: read('--metrics-api-cert-file', flags.metricsApiCertFile),
          key: read('--metrics-api-key-file', flags.metricsApiKeyFile),
        }
      : undefined;
  return metricsAdapterRunnable({
    client,
    log,
    namespace: flags.namespace,
    port: wholeNumber('--metrics-api-port', flags.metricsApiPort),
    host: flags.metricsApiBindAddress,
    cert,
    registry: metrics.registry,
    scrapeIntervalMs: Math.max(100, parseDurationMs(flags.metricsScrapeInterval)),
    informers,
    onReloadChange,
    queueUrl: flags.queueUrl || undefined,
  });
}

/** The activator (operator/activator), which holds the requests of APIs at zero; every replica runs one. */
function activator(
  flags: Flags,
  client: KubeClient,
  log: Logger,
  metrics: OperatorMetrics,
  states: ScaleToZeroStates,
  identity: string,
  informers: CortexInformers,
): ActivatorRunnable | undefined {
  const port = wholeNumber('--activator-port', flags.activatorPort);
  if (port === 0) return undefined;
  let timeoutMs: number;
  try {
    timeoutMs = parseDurationMs(flags.activatorTimeout);
  } catch (error) {
    throw new Error(`--activator-timeout: ${errorMessage(error)}`);
  }
  if (timeoutMs <= 0)
    throw new Error('--activator-timeout must be longer than 0 (a held request waits this long for a replica)');
  const running = activatorRunnable({
    client,
    log,
    namespace: flags.namespace,
    port,
    host: flags.activatorBindAddress,
    timeoutMs,
    clusterDomain: flags.clusterDomain,
    registry: metrics.registry,
    states,
    events: eventRecorder(client, { log, instance: identity, metrics }),
    informers,
    queueUrl: flags.queueUrl || undefined,
  });
  running.listening.catch((error: unknown) => log.error('activator: not serving', { error: errorMessage(error) }));
  return running;
}

function wholeNumber(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a whole number, got "${value}"`);
  return n;
}

/** --dependency-cache-dir/-size, checked: an absolute folder and a size, or none. */
function dependencyCache(flags: Flags): DependencyCacheConfig | undefined {
  if (flags.dependencyCacheDir === '') return undefined;
  if (!path.isAbsolute(flags.dependencyCacheDir)) {
    throw new Error(`--dependency-cache-dir must be an absolute path on the nodes, got "${flags.dependencyCacheDir}"`);
  }
  try {
    parseMemBytes(flags.dependencyCacheSize);
  } catch {
    throw new Error(`--dependency-cache-size must be a size like 20Gi or 500M, got "${flags.dependencyCacheSize}"`);
  }
  return { hostPath: flags.dependencyCacheDir, maxSize: flags.dependencyCacheSize };
}

async function run(flags: Flags): Promise<void> {
  const ns = operatorNamespace(flags.nodePoolsNamespace);
  if (flags.printRbac) {
    process.stdout.write(
      rbacManifests({ namespace: ns, serviceAccount: flags.serviceAccount })
        .map((o) => stringify(o))
        .join('---\n'),
    );
    return;
  }
  const log = operatorLogger(flags.logLevel === 'warn' ? 'warning' : flags.logLevel);
  const kc = loadKubeConfig(flags);
  const client = new KubeClient(kc);
  const metrics = createMetrics({ defaultMetrics: true });
  const identity = defaultIdentity();
  // every replica serves the metrics API and the activator, leader or not: the API server and
  // the Services may reach any of them. They share one cache of RealtimeAPIs and Cortex pods.
  const shared = cortexInformers({ client, log, namespace: flags.namespace });
  // a replica's failing model reloads changed: its API's status is derived again (the controller comes later)
  let reloadChanged = (_namespace: string, _api: string): void => undefined;
  const adapter = metricsAdapter(flags, client, log, metrics, shared, (ns, api) => reloadChanged(ns, api));
  const scaleToZeroStates: ScaleToZeroStates = new Map();
  const activatorServer = activator(flags, client, log, metrics, scaleToZeroStates, identity, shared);
  const activatorPort = Number(flags.activatorPort);
  if (!flags.activatorAddress || !activatorServer)
    log.warn(
      'scale to zero is off: it needs the activator (--activator-port) and the address Services reach it at ' +
        '(--activator-address, the pod IP in a cluster); no API is scaled to zero',
    );
  else if (!adapter)
    log.warn(
      'scale to zero: no API goes to zero without the metrics API (--no-metrics-api), ' +
        'which tells when an API last served a request',
    );

  let minor: number | undefined;
  try {
    minor = await serverMinor(client);
    log.info('connected', {
      server: kc.getCurrentCluster()?.server,
      kubernetes: minor !== undefined ? `1.${minor}` : 'unknown',
    });
  } catch (error) {
    log.warn('cannot read the API server version; retrying in the background through the watches', {
      error: errorMessage(error),
    });
  }

  let nodePools: NodePoolSource;
  if (flags.nodePoolsConfigmap !== undefined || inCluster()) {
    const name = flags.nodePoolsConfigmap ?? 'cortex-node-pools';
    nodePools = configMapPools(client, ns, name, log);
    log.info('node pools', { configMap: `${ns}/${name}` });
  } else {
    nodePools = filePools(flags.nodePoolsFile, log);
    log.info('node pools', { file: flags.nodePoolsFile, exists: existsSync(flags.nodePoolsFile) });
  }

  const routes = routeConfigFromFlags(flags);
  const childConfig = {
    runtimeImage: flags.runtimeImage,
    gpuRuntimeImage: flags.gpuRuntimeImage,
    imagePullPolicy: flags.imagePullPolicy,
    // HPAConfigurableTolerance: alpha (off) in 1.33–1.34, where the API server drops the field; beta (on) from 1.35
    hpaTolerance: minor !== undefined && minor >= 35,
    clusterDomain: flags.clusterDomain,
    dependencyCache: dependencyCache(flags),
  };
  // BatchAPIs and TaskAPIs own the bundles they refer to, as RealtimeAPIs do
  const jobApiBundles = new JobApiBundles({ client, log, namespace: flags.namespace });
  const controller = new RealtimeApiController({
    jobApis: () => jobApiBundles.list(),
    client,
    log,
    nodePools,
    namespace: flags.namespace,
    workers: Math.max(1, wholeNumber('--workers', flags.workers)),
    metrics,
    events: eventRecorder(client, { log, instance: identity, metrics }),
    resyncMs: parseDurationMs(flags.resync),
    bundleGracePeriodMs: parseDurationMs(flags.bundleGracePeriod),
    // AsyncAPIs' replicas work this queue; without one an AsyncAPI's status says QueueMissing
    queueUrl: flags.queueUrl || undefined,
    scaleToZero: {
      activator:
        flags.activatorAddress && activatorServer
          ? { address: flags.activatorAddress, port: activatorPort }
          : undefined,
      activity: adapter ? (ns, name) => adapter.activity(ns, name) : undefined,
      // an AsyncAPI's queued requests count as held: one with work queued is not idle, and at zero
      // it is woken by it (docs/async.md, "Scale to zero")
      held: (ns, name) => (activatorServer?.held(ns, name) ?? 0) + (adapter?.queueDepth(ns, name) ?? 0),
      states: scaleToZeroStates,
    },
    routes,
    config: childConfig,
  });
  jobApiBundles.collector = controller.bundles;
  reloadChanged = (ns, api) => controller.enqueueKey(`${ns}/${api}`);

  const port = wholeNumber('--health-port', flags.healthPort);
  const elector = flags.leaderElect
    ? new LeaderElector({
        client,
        log,
        identity,
        namespace: flags.leaderElectionNamespace ?? operatorNamespace(undefined),
        name: flags.leaderElectionName,
        leaseDurationMs: parseDurationMs(flags.leaseDuration),
        renewDeadlineMs: parseDurationMs(flags.renewDeadline),
        retryPeriodMs: parseDurationMs(flags.retryPeriod),
      })
    : undefined;
  let stopping = false;
  const stop = (signal: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    health?.close();
    // within the manager's grace period; what has not stopped by then is cut off by the exit
    void manager.stop().then((clean) => process.exit(clean ? code : code || 1));
  };
  const manager = new Manager({
    log,
    elector,
    gracePeriodMs: 10_000,
    onLeading: (leading) => {
      metrics.leader.set(leading ? 1 : 0);
      if (leading)
        log.info('starting', { namespace: flags.namespace ?? '(all)', runtimeImage: flags.runtimeImage, identity });
    },
    // losing the lease stops reconciling (the manager did), then exits (as controller-runtime
    // does): a restart campaigns again from a clean state
    onLostLeadership: (why) => stop(`lost the leader lease: ${why}`, 1),
    onFailure: (name) => stop(`${name} failed`, 1),
  });
  // caches first (the handlers of the metrics API and the activator are attached by now), then
  // what serves every replica; only the leader runs the controller (informers, workers) and the
  // scale-to-zero loop, which reads the controller's caches
  if (adapter || activatorServer) {
    manager.add(startStop('pods cache', false, shared.pods, () => shared.pods.waitForSync()));
    manager.add(startStop('realtimeapis cache', false, shared.apis, () => shared.apis.waitForSync()));
  }
  if (adapter) manager.add(adapter);
  if (activatorServer) manager.add(activatorServer);
  manager.add(startStop('controller', true, controller, 'started')).add(controller.scaleToZero);
  manager.add(startStop('job API bundles', true, jobApiBundles, 'started'));
  const splitters = new TrafficSplitterController({
    client,
    log,
    namespace: flags.namespace,
    routes,
    apis: controller.apis,
  });
  manager.add(startStop('traffic splitter controller', true, splitters, 'started'));
  manager.add(
    startStop(
      'task job controller',
      true,
      new TaskJobController({ client, log, namespace: flags.namespace, config: childConfig, nodePools }),
      'started',
    ),
  );
  // BatchJobs need the queue their batches go through (docs/batch.md); without one they wait
  if (flags.queueUrl !== undefined && flags.queueUrl !== '') {
    const broker = openBroker(flags.queueUrl, { onError: (e) => log.warn('queue', { error: e.message }) });
    const batchJobs = new BatchJobController({
      client,
      log,
      namespace: flags.namespace,
      broker,
      queueUrl: flags.queueUrl,
      config: childConfig,
      nodePools,
    });
    manager.add(startStop('batch job controller', true, batchJobs, 'started'));
  }

  // a standby is ready (it can take over); the leader once its caches are synced
  // not ready while the metrics API does not serve: its Service must not send the API server here
  let metricsApiUp = adapter === undefined;
  void adapter?.listening.then(
    () => (metricsApiUp = true),
    () => undefined,
  );
  const health =
    port > 0
      ? healthServer(port, () => metricsApiUp && (!manager.leading || controller.synced), metrics, log)
      : undefined;

  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await manager.start();
  if (manager.leading && !stopping) log.info('running');
}

export function operatorCommand(): Command {
  return addOperatorOptions(new Command('cortex-operator'))
    .description(
      'the Cortex operator: turns RealtimeAPIs into Deployments, Services and HorizontalPodAutoscalers, ' +
        'and runs the jobs of BatchAPIs and TaskAPIs',
    )
    .action(async (flags: Flags) => {
      try {
        await run(flags);
      } catch (error) {
        process.stderr.write(`cortex-operator: ${errorMessage(error)}\n`);
        process.exit(1);
      }
    });
}

export async function main(argv: string[]): Promise<void> {
  await operatorCommand().parseAsync(argv);
}
