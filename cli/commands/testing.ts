// For the commands' in-process tests: a factory with testIO(), a temporary $CORTEX_HOME, the real
// environment resolver (cli.yaml written there), and fakes for the local environment and
// clusters. Anything a test did not fake throws, so a test cannot reach a real supervisor or cluster.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import type { RealtimeApi } from '../../operator/api/v1alpha1/index.ts';
import {
  LOCAL,
  readEnvConfig,
  resolveEnvironment,
  writeEnvConfig,
  type ClusterEnvironment,
  type Environment,
} from '../environments.ts';
import { localTarget, type ClusterSession, type Factory, type LocalSession, type Supervisor } from '../factory.ts';
import { execute } from '../index.ts';
import { testIO, type TestIO, type TestIOOptions } from '../io.ts';
import { layout, type Layout } from '../local/paths.ts';
import type { ApiStatus, ReplicaStatus, SupervisorStatus } from '../local/protocol.ts';
import type { ApiView } from '../local/status.ts';

export interface TestFactoryOptions {
  io?: TestIOOptions;
  /** Cluster environments to add to cli.yaml (local is always there). */
  environments?: ClusterEnvironment[];
  defaultEnvironment?: string;
  local?: Partial<LocalSession>;
  cluster?: Partial<ClusterSession>;
  /** The kubeconfig's current context (default: the environment's context, else "test-context"). */
  kubeContext?: (env: ClusterEnvironment) => string;
  startReplica?: Factory['startReplica'];
  runSupervisor?: Factory['runSupervisor'];
}

export interface TestFactory extends Factory {
  readonly io: TestIO;
  readonly home: string;
  readonly layoutOf: Layout;
  /** Exit codes passed to exit(). */
  readonly exits: number[];
  /** Cluster environments cluster() was asked for. */
  readonly connected: string[];
  /** Fires Ctrl-C (resolves every onInterrupt() promise). */
  interrupt(): void;
  /** Fires SIGTERM (runs the onTerminate() handlers). */
  terminate(): void;
  /** Removes the temporary home. */
  cleanup(): void;
}

function notFaked(what: string): () => never {
  return () => {
    throw new Error(`${what} is not faked in this test`);
  };
}

export function testFactory(options: TestFactoryOptions = {}): TestFactory {
  const home = mkdtempSync(path.join(tmpdir(), 'cortex-cmd-test-'));
  const l = layout(home);
  if (options.environments !== undefined || options.defaultEnvironment !== undefined) {
    const config = readEnvConfig(l);
    config.environments.push(...(options.environments ?? []));
    config.defaultEnvironment = options.defaultEnvironment ?? LOCAL;
    writeEnvConfig(l, config);
  }
  const io = testIO(options.io);
  const exits: number[] = [];
  const connected: string[] = [];
  const interrupts: (() => void)[] = [];
  const terminations: (() => void)[] = [];
  const f: TestFactory = {
    io,
    home,
    layoutOf: l,
    exits,
    connected,
    layout: () => l,
    environment: (name) => resolveEnvironment(l, name),
    local: (env) => ({
      target: localTarget(l, env),
      deploy: notFaked('local deploy'),
      apis: notFaked('local apis'),
      status: notFaked('local status'),
      records: () => ({}),
      findSupervisor: () => Promise.resolve(undefined),
      ensureSupervisor: notFaked('starting a supervisor'),
      hasRunnableApis: () => false,
      fetch: notFaked('fetch'),
      ...options.local,
    }),
    cluster: (env) => {
      connected.push(env.name);
      return {
        env,
        namespace: env.namespace,
        context: env.context ?? 'test-context',
        deploy: notFaked('cluster deploy'),
        waitForRollout: notFaked('cluster waitForRollout'),
        listApis: notFaked('cluster listApis'),
        getApi: notFaked('cluster getApi'),
        apiPods: notFaked('cluster apiPods'),
        recentRequests: () => Promise.resolve(undefined),
        streamLogs: notFaked('cluster streamLogs'),
        predict: notFaked('cluster predict'),
        restart: notFaked('cluster restart'),
        delete: notFaked('cluster delete'),
        check: notFaked('cluster check'),
        splitter: notFaked('cluster splitter'),
        listSplitters: () => Promise.resolve([]),
        listJobApis: () => Promise.resolve([]),
        splitterRates: notFaked('cluster splitterRates'),
        apiKeys: notFaked('cluster apiKeys'),
        ...options.cluster,
      };
    },
    kubeContext: options.kubeContext ?? ((env) => env.context ?? 'test-context'),
    startReplica: options.startReplica ?? notFaked('startReplica'),
    runSupervisor: options.runSupervisor ?? notFaked('runSupervisor'),
    onInterrupt() {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      interrupts.push(resolve);
      return { promise, dispose: () => interrupts.splice(interrupts.indexOf(resolve) >>> 0, 1) };
    },
    onTerminate: (handler) => void terminations.push(handler),
    exit: (code) => void exits.push(code),
    interrupt: () => interrupts.splice(0).forEach((resolve) => resolve()),
    terminate: () => terminations.splice(0).forEach((handler) => handler()),
    cleanup: () => rmSync(home, { recursive: true, force: true }),
  };
  return f;
}

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cortex ARGS` in-process against the factory (then removes its home). */
export async function cortex(f: TestFactory, ...args: string[]): Promise<Outcome> {
  try {
    const code = await execute(args, f);
    return { code, stdout: f.io.out(), stderr: f.io.err() };
  } finally {
    f.cleanup();
  }
}

/** Runs `cortex ARGS` in-process, keeping the home; the output is what this run wrote. */
export async function cortexIn(f: TestFactory, ...args: string[]): Promise<Outcome> {
  const before = { out: f.io.out().length, err: f.io.err().length };
  const code = await execute(args, f);
  return { code, stdout: f.io.out().slice(before.out), stderr: f.io.err().slice(before.err) };
}

/** Durations in progress lines (0.0s, 12.3s) as "N.Ns", so outputs compare exactly. */
export const timeless = (text: string): string => text.replace(/\b\d+(\.\d+)?m?\d*s\b/g, 'N.Ns');

export const prodEnv: ClusterEnvironment = {
  name: 'prod',
  provider: 'kubernetes',
  context: 'prod-admin',
  namespace: 'ml',
};

export function replica(overrides: Partial<ReplicaStatus> = {}): ReplicaStatus {
  return {
    id: 'iris-1',
    version: 'abc1234',
    role: 'current',
    state: 'ready',
    pid: 4242,
    port: 41000,
    restarts: 0,
    startedAt: ago(30),
    logFile: '/nonexistent/iris-1.log',
    ...overrides,
  };
}

export function apiStatus(overrides: Partial<ApiStatus> = {}): ApiStatus {
  return {
    name: 'iris',
    endpoint: '/iris',
    status: 'live',
    requested: 1,
    ready: 1,
    upToDate: 1,
    restarts: 0,
    createdAt: ago(120),
    lastUpdate: ago(120),
    version: 'abc1234',
    replicas: [replica()],
    ...overrides,
  };
}

export function apiView(overrides: Partial<ApiView> = {}): ApiView {
  const status = apiStatus(overrides);
  return {
    ...status,
    url: `http://localhost:8888${status.endpoint}`,
    metrics: { '2XX': 3, '4XX': 1, '5XX': 0, averageLatencyMs: 1.5 },
    ...overrides,
  };
}

export function supervisorStatus(apis: ApiStatus[]): SupervisorStatus {
  return { pid: 1, home: '/tmp/x', gateway: { host: '127.0.0.1', port: 8888, listening: true }, apis };
}

/** A supervisor that answers status with `apis`, and whatever else the test gives. */
export function fakeSupervisor(apis: ApiStatus[], overrides: Partial<Supervisor> = {}): Supervisor {
  return {
    status: () => Promise.resolve(supervisorStatus(apis)),
    stream: notFaked('supervisor stream'),
    request: notFaked('supervisor request'),
    ...overrides,
  };
}

/** A RealtimeAPI at generation 2 as the operator left it: live with `status` unless given another. */
export function realtimeApi(name: string, status: RealtimeApi['status'] = {}): RealtimeApi {
  return {
    apiVersion: 'cortex.dev/v1alpha1',
    kind: 'RealtimeAPI',
    metadata: { name, namespace: 'ml', uid: `uid-${name}`, generation: 2, creationTimestamp: ago(60) },
    spec: { predictor: { type: 'python', path: 'predictor.py' } },
    status: {
      observedGeneration: 2,
      status: 'live',
      replicas: { requested: 1, ready: 1, updated: 1, available: 1 },
      endpoint: `http://${name}.ml.svc.cluster.local/`,
      ...status,
    },
  };
}

export function pod(name: string, ready: boolean): V1Pod {
  return {
    metadata: { name },
    spec: { containers: [], nodeName: 'node-1' },
    status: {
      phase: 'Running',
      containerStatuses: [{ name: 'api', ready, restartCount: 0, image: 'x', imageID: 'x' }],
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  };
}

/** The ISO time `seconds` ago. */
export const ago = (seconds: number): string => new Date(Date.now() - seconds * 1000).toISOString();

export type { Environment };
