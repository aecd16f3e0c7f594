// The setup the operator's real-control-plane suites share (reconcile.cluster-test.ts and
// operator-process.cluster-test.ts): a real control plane (test/cluster: kube-apiserver,
// controller-manager, scheduler, etcd, kwok's fake CPU and GPU nodes), namespace `ml`, and
// operator processes with leader election on whose every request impersonates a ServiceAccount
// bound to exactly the RBAC rules operator/rbac.ts declares, reading their node pools from a
// ConfigMap in their namespace. Each suite file starts its own cluster (~12 s with the binaries
// cached): node --test runs every file in a process of its own.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { type ResultPromise } from 'execa';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { OPERATOR_NS, operatorIdentity } from '../helpers/identity.ts';
import { spawnOperator } from '../helpers/operator.ts';
import { CLUSTER_BUILD_TIMEOUT_MS } from '../helpers/test-cluster.ts';
import { waitFor } from '../helpers/wait.ts';

export const NS = 'ml';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from kubectl, read field by field
export type Obj = any;

/** The sum of a metric's samples whose labels contain every `labels` entry. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/** Creates and updates of the children the operator owns (Deployment, Service, HPA), per /metrics. */
export const childWrites = (text: string) =>
  ['Deployment', 'Service', 'HorizontalPodAutoscaler'].reduce(
    (n, kind) => n + metricValue(text, 'cortex_operator_writes_total', { kind }),
    0,
  );
export const reconciles = (text: string) => metricValue(text, 'cortex_operator_reconciles_total');

/** A RealtimeAPI in `ml` whose predictor is a fake image (kwok runs nothing). */
export function realtimeApi(name: string, spec: Record<string, unknown>): Obj {
  const predictor = {
    type: 'python',
    path: 'predictor.py',
    image: 'fake.invalid/iris:1',
    ...(spec.predictor as object),
  };
  return {
    apiVersion: 'cortex.dev/v1alpha1',
    kind: 'RealtimeAPI',
    metadata: { name, namespace: NS },
    spec: { ...spec, predictor },
  };
}

export interface Operator {
  name: string;
  proc: ResultPromise;
  port: number;
  logs: string[];
  metrics(): Promise<string>;
}

export interface OperatorSuite {
  /** Read inside tests, once `before` has run. */
  cluster: Cluster;
  /** The operator started before the tests ('a'), synced and leading. */
  first: Operator;
  /** Every operator's log lines, prefixed with its name. */
  logs: string[];
  /** An operator process (leader election on, a 3 s lease) with /metrics and /healthz on a free port. */
  startOperator(name: string): Promise<Operator>;
  /** Waits until `op` has synced its caches (it leads). */
  running(op: Operator): Promise<unknown>;
  k(args: string[], input?: string): Promise<string>;
  get(kind: string, name: string, ns?: string): Promise<Obj>;
  apply(obj: Obj): Promise<string>;
  statusOf(name: string): Promise<Obj>;
  /** Waits until the RealtimeAPI's status is `word` for its current generation; returns it. */
  waitStatus(name: string, word: string, timeoutMs?: number): Promise<Obj>;
  /** The Events whose involved object is the RealtimeAPI `name`. */
  events(name: string): Promise<Obj[]>;
}

/**
 * Starts the cluster, namespace `ml` and operator 'a' before the enclosing `describe`'s tests;
 * after them stops every operator (printing their log on a failure, a warning or
 * CORTEX_TEST_OPERATOR_LOG), the cluster, and removes the folder.
 */
export function operatorSuite(prefix: string): OperatorSuite {
  let dir: string;
  let operatorKubeconfig: string;
  const operators: Operator[] = [];
  const logs: string[] = [];
  const suite: OperatorSuite = {
    cluster: undefined as unknown as Cluster,
    first: undefined as unknown as Operator,
    logs,
    async startOperator(name) {
      // the flags of every test's operator, plus a short lease so that a failover takes seconds
      const op = await spawnOperator(operatorKubeconfig, [
        '--resync',
        '30s',
        '--log-level',
        'debug',
        '--lease-duration',
        '3s',
        '--renew-deadline',
        '2s',
        '--retry-period',
        '500ms',
      ]);
      const { proc, healthPort: port, logs: own } = op;
      // the suite's log, prefixed with the operator's name (spawnOperator collects its own, unprefixed)
      proc.all?.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(`[${name}] ${line}`);
      });
      const started: Operator = {
        name,
        proc,
        port,
        logs: own,
        metrics: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
      };
      operators.push(started);
      return started;
    },
    running: (op) =>
      waitFor(`${op.name} to sync its caches`, async () => op.logs.some((l) => l.includes('"running"')), 30_000),
    k: (args, input) => suite.cluster.kubectl(args, { input }),
    get: (kind, name, ns = NS) => suite.cluster.kubectl.json(['get', kind, name, '-n', ns]),
    apply: (obj) => suite.k(['apply', '--server-side', '--field-manager=test', '-f', '-'], JSON.stringify(obj)),
    statusOf: async (name) => (await suite.get('realtimeapi', name)).status ?? {},
    waitStatus: (name, word, timeoutMs = 60_000) =>
      waitFor(
        `${name} to be ${word}`,
        async () => {
          const api = await suite.get('realtimeapi', name);
          return api.status?.status === word && api.status.observedGeneration === api.metadata.generation && api;
        },
        timeoutMs,
      ),
    events: async (name) =>
      (
        await suite.cluster.kubectl.json<{ items: Obj[] }>([
          'get',
          'events',
          '-n',
          NS,
          '--field-selector',
          `involvedObject.kind=RealtimeAPI,involvedObject.name=${name}`,
        ])
      ).items,
  };

  before(
    async () => {
      dir = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
      const poolsFile = path.join(dir, 'node-pools.yaml');
      suite.cluster = await startCluster({ stateDir: path.join(dir, 'state'), nodePoolsFile: poolsFile });
      // The test cluster creates the operator's namespace itself (cortex-system); this checks it is there.
      await suite.k(['get', 'namespace', OPERATOR_NS, '-o', 'name']);
      await suite.k(['create', 'namespace', NS]);
      // its ServiceAccount bound to exactly the declared rules, its node pools as a ConfigMap in its namespace
      operatorKubeconfig = await operatorIdentity(suite.cluster, dir, poolsFile);
      suite.first = await suite.startOperator('a');
      await suite.running(suite.first);
    },
    { timeout: CLUSTER_BUILD_TIMEOUT_MS },
  );

  after(async () => {
    for (const op of operators) op.proc.kill('SIGTERM');
    for (const op of operators) await op.proc.catch(() => undefined);
    if (
      process.exitCode ||
      logs.some((l) => /"level":"(warning|error)"/.test(l)) ||
      process.env.CORTEX_TEST_OPERATOR_LOG
    ) {
      process.stderr.write(`--- operator log (last 60 lines) ---\n${logs.slice(-60).join('\n')}\n`);
    }
    await suite.cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return suite;
}
