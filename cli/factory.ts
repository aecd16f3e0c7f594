// What a command needs from the world, in one object (gh's cmdutil.Factory): the IO streams,
// $CORTEX_HOME, the environment resolver (-e NAME, else the default one), and for each kind of
// environment the operations the commands call. `systemFactory()` is the real one; tests build
// one with testIO() and fakes (cli/commands/testing.ts).
import type { V1Pod } from '@kubernetes/client-node';
import type { RealtimeApi } from '../operator/api/v1alpha1/index.ts';
import type { Replica, ReplicaOptions } from '../runtime/replica.ts';
import { serveFactory } from './serve-main.ts';
import { connect, explain, loadKubeConfig } from './cluster/connect.ts';
import { clusterKeyStore } from './cluster/api-keys.ts';
import type { KeyStore } from './local/keys.ts';
import { deployToCluster, type ClusterDeployReporter } from './cluster/deploy.ts';
import { REALTIME_APIS } from '../operator/kube/resources.ts';
import type { ClusterDeployResult } from './cluster/deploy.ts';
import { streamLogs, type LogsOptions } from './cluster/logs.ts';
import { deleteApi, predictThroughProxy, restartApi, type DeletedKind, type Prediction } from './cluster/operations.ts';
import { listJobApis, type JobApiView } from './cluster/job-apis.ts';
import { apiPods, getApi, listApis } from './cluster/status.ts';
import { recentRequests } from './cluster/window-metrics.ts';
import type { RecentRequests } from '../operator/metrics-adapter/request-stats.ts';
import { waitForRollout, type WaitOptions, type WaitOutcome } from './cluster/wait.ts';
import {
  baseUrl,
  resolveEnvironment,
  type ClusterEnvironment,
  type Environment,
  type LocalEnvironment,
} from './environments.ts';
import { systemIO, type IOStreams } from './io.ts';
import { clusterSplitterRates, getSplitter, listSplitters, type ClusterSplitter } from './cluster/splitter-view.ts';
import type { BackendRates } from './local/splitter-view.ts';
import { ensureSupervisor, findSupervisor, hasRunnableApis, type SupervisorClient } from './local/client.ts';
import { deployProject, type DeployReporter, type DeployResult } from './local/deploy.ts';
import { layout, type Layout } from './local/paths.ts';
import type { SupervisorStatus } from './local/protocol.ts';
import { readState, type ApiRecord } from './local/state.ts';
import { collectApis, supervisorStatus, type ApiView } from './local/status.ts';
import { runSupervisor } from './local/supervisor.ts';

/** Where the local environment's APIs are served. */
export interface Target {
  layout: Layout;
  env: LocalEnvironment;
  /** What users call: http://localhost:8888 */
  baseUrl: string;
  /** What this machine's CLI calls (the loopback address when the gateway listens on all). */
  clientUrl: string;
}

/** What the commands ask of a running supervisor. */
export type Supervisor = Pick<SupervisorClient, 'status' | 'stream' | 'request'>;

/** The local environment, as the commands use it. */
export interface LocalSession {
  readonly target: Target;
  deploy(options: { config: string; yes: boolean }, reporter: DeployReporter): Promise<DeployResult[]>;
  /** The APIs with their metrics (starts the supervisor when APIs should run and none does). */
  apis(): Promise<ApiView[]>;
  /** The supervisor's status (started when APIs should run); undefined when nothing runs. */
  status(): Promise<SupervisorStatus | undefined>;
  /** The APIs recorded in state.json. */
  records(): Record<string, ApiRecord>;
  /** The running supervisor, without starting one. */
  findSupervisor(): Promise<Supervisor | undefined>;
  /** The running supervisor, started when none runs. */
  ensureSupervisor(): Promise<Supervisor>;
  /** state.json has APIs a supervisor should run. */
  hasRunnableApis(): boolean;
  fetch(url: string, init: RequestInit): Promise<Response>;
}

/** A cluster environment, connected (the kubeconfig was read), as the commands use it. */
export interface ClusterSession {
  readonly env: ClusterEnvironment;
  readonly namespace: string;
  readonly context: string;
  deploy(
    options: { config: string; noBundle: boolean },
    reporter: ClusterDeployReporter,
  ): Promise<{ projectDir: string; results: ClusterDeployResult[] }>;
  waitForRollout(options: WaitOptions): Promise<WaitOutcome>;
  listApis(): Promise<RealtimeApi[]>;
  getApi(name: string): Promise<RealtimeApi>;
  apiPods(name: string): Promise<V1Pod[]>;
  /**
   * Requests, 5xx share and p50/p99 of the API over the operator's window (its metrics API), else
   * of these pods' ready replicas since they started (their /metrics), saying why.
   */
  recentRequests(name: string, pods: V1Pod[]): Promise<RecentRequests | undefined>;
  streamLogs(options: LogsOptions): Promise<void>;
  /** Through the API's route when it serves, else the API server's proxy (no apiKey possible there). */
  predict(name: string, body: Buffer, contentType: string, apiKey?: string): Promise<Prediction>;
  /** A rolling restart; the Deployment's new generation. */
  restart(name: string): Promise<number>;
  /** What it was (RealtimeAPI, TrafficSplitter, BatchAPI or TaskAPI); undefined from a test's fake. */
  delete(name: string): Promise<DeletedKind | undefined>;
  /** The namespace's BatchAPIs and TaskAPIs (cortex get's list). */
  listJobApis(): Promise<JobApiView[]>;
  /** Throws a CliError saying why unless the cluster answers and has the RealtimeAPI resource. */
  check(): Promise<void>;
  /** The TrafficSplitter `name`, or undefined. */
  splitter(name: string): Promise<ClusterSplitter | undefined>;
  /** The namespace's TrafficSplitters (cortex get's list). */
  listSplitters(): Promise<ClusterSplitter[]>;
  /** Each of its APIs' request and error rates, side by side. */
  splitterRates(splitter: ClusterSplitter): Promise<BackendRates[]>;
  /** The API's keys Secret (cortex api-key). */
  apiKeys(api: RealtimeApi): KeyStore;
}

/** Something that can be stopped (a process signal listener, a running replica). */
export interface Interrupt {
  /** Resolves on the first Ctrl-C. */
  promise: Promise<void>;
  dispose(): void;
}

export interface Factory {
  readonly io: IOStreams;
  /** $CORTEX_HOME's files. */
  layout(): Layout;
  /** The environment a command runs against: -e NAME, else the default one. */
  environment(name: string | undefined): Environment;
  local(env: LocalEnvironment): LocalSession;
  /** Reads the kubeconfig (throws a CliError when its file or context is missing). */
  cluster(env: ClusterEnvironment): ClusterSession;
  /** The kubeconfig context an environment uses now (throws like cluster()). */
  kubeContext(env: ClusterEnvironment): string;
  startReplica(options: ReplicaOptions): Promise<Pick<Replica, 'port' | 'stop'>>;
  runSupervisor(): Promise<void>;
  /** Ctrl-C, once. */
  onInterrupt(): Interrupt;
  /** SIGTERM or SIGINT, once each (serve's drain). */
  onTerminate(handler: () => void): void;
  /** Ends the process now (open streams and servers end with it). */
  exit(code: number): void;
  /** Set by a command that ends without an error but not with 0 (130: interrupted). */
  exitCode?: number;
}

/** The gateway's address as this machine's CLI calls it. */
export function localTarget(l: Layout, env: LocalEnvironment): Target {
  const host =
    env.host === '0.0.0.0' || env.host === 'localhost'
      ? '127.0.0.1'
      : env.host === '::'
        ? '[::1]'
        : env.host.includes(':')
          ? `[${env.host}]`
          : env.host;
  return { layout: l, env, baseUrl: baseUrl(env), clientUrl: `http://${host}:${env.port}` };
}

export function localSession(l: Layout, env: LocalEnvironment): LocalSession {
  const target = localTarget(l, env);
  return {
    target,
    deploy: (options, reporter) => deployProject({ ...options, layout: l }, reporter),
    apis: () => collectApis(l, target.baseUrl),
    status: () => supervisorStatus(l),
    records: () => readState(l).apis,
    findSupervisor: () => findSupervisor(l),
    ensureSupervisor: () => ensureSupervisor(l),
    hasRunnableApis: () => hasRunnableApis(l),
    fetch: (url, init) => fetch(url, init),
  };
}

export function clusterSession(env: ClusterEnvironment): ClusterSession {
  const conn = connect(env);
  return {
    env,
    namespace: conn.namespace,
    context: conn.context,
    deploy: (options, reporter) => deployToCluster({ ...options, conn }, reporter),
    waitForRollout: (options) => waitForRollout(conn, options),
    listApis: () => listApis(conn),
    getApi: (name) => getApi(conn, name),
    apiPods: (name) => apiPods(conn, name),
    recentRequests: (name, pods) => recentRequests(conn, name, pods),
    streamLogs: (options) => streamLogs(conn, options),
    predict: (name, body, contentType, apiKey) => predictThroughProxy(conn, name, body, contentType, apiKey),
    restart: (name) => restartApi(conn, name),
    delete: (name) => deleteApi(conn, name),
    splitter: (name) => getSplitter(conn, name),
    listSplitters: () => listSplitters(conn),
    listJobApis: () => listJobApis(conn),
    splitterRates: (splitter) => clusterSplitterRates(conn, splitter),
    apiKeys: (api) => clusterKeyStore(conn, api),
    async check() {
      try {
        await conn.client.list(REALTIME_APIS, env.namespace, { limit: 1 });
      } catch (error) {
        throw explain(conn, error, `checking ${env.name}`);
      }
    },
  };
}

function onSignalOnce(signal: NodeJS.Signals): Interrupt {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  const handler = () => {
    process.removeListener(signal, handler);
    resolve();
  };
  process.on(signal, handler);
  return { promise, dispose: () => process.removeListener(signal, handler) };
}

/** The real world: the process's streams, $CORTEX_HOME, kubeconfigs, signals. */
export function systemFactory(io: IOStreams = systemIO()): Factory {
  return {
    ...serveFactory(io),
    layout: () => layout(),
    environment: (name) => resolveEnvironment(layout(), name),
    local: (env) => localSession(layout(), env),
    cluster: (env) => clusterSession(env),
    kubeContext: (env) => loadKubeConfig(env).kc.getCurrentContext(),
    runSupervisor: () => runSupervisor(),
    onInterrupt: () => onSignalOnce('SIGINT'),
  };
}
