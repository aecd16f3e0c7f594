// Runs cortex-operator as a local process against a test cluster, the way it runs in a real one:
// every request impersonates its ServiceAccount, bound to exactly the RBAC rules operator/rbac.ts
// declares, and it reads its node pools from a ConfigMap in its namespace.
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { Cluster } from '../cluster/cluster.ts';
import { operatorNodeFlags } from '../../operator/node-flags.ts';
import { OPERATOR_NS, operatorIdentity } from './identity.ts';
import { freePort } from './local.ts';
import { repoRoot } from './serve.ts';
import { waitFor } from './wait.ts';

export interface OperatorProcess {
  proc: ResultPromise;
  healthPort: number;
  logs: string[];
  stop(): Promise<void>;
}

/** The flags every test's operator runs with (a local process or the operator image). */
export function operatorArgs(
  kubeconfig: string,
  healthPort: number,
  runtimeImage = 'fake.invalid/cortex-runtime:test',
) {
  return [
    '--kubeconfig',
    kubeconfig,
    '--node-pools-configmap',
    'cortex-node-pools',
    '--node-pools-namespace',
    OPERATOR_NS,
    '--runtime-image',
    runtimeImage,
    '--health-port',
    String(healthPort),
    // its metrics API would scrape kwok's fake pod IPs, which nothing may connect to (test/autoscaling covers it)
    '--no-metrics-api',
    // no activator on the default port 8889, which operators of tests running side by side
    // would share (test/autoscaling/scale-to-zero passes its own)
    '--activator-port',
    '0',
  ];
}

/**
 * Starts the operator with the identity operatorIdentity() wrote (`kubeconfig`), the flags every
 * test shares and `extraArgs`; does not wait for it. Its logs are collected in `logs`.
 */
export async function spawnOperator(kubeconfig: string, extraArgs: string[] = []): Promise<OperatorProcess> {
  const healthPort = await freePort();
  const proc = execa(
    process.execPath,
    [
      ...operatorNodeFlags,
      path.join(repoRoot, 'operator', 'bin', 'cortex-operator.ts'),
      ...operatorArgs(kubeconfig, healthPort),
      ...extraArgs,
    ],
    { reject: false, all: true, buffer: false },
  );
  const logs: string[] = [];
  proc.all?.on('data', (chunk: Buffer) => logs.push(...chunk.toString().split('\n').filter(Boolean)));
  return {
    proc,
    healthPort,
    logs,
    async stop() {
      proc.kill('SIGTERM');
      await proc.catch(() => undefined);
    },
  };
}

/**
 * Creates the ServiceAccount, its declared RBAC and the node-pools ConfigMap (from the cluster's
 * node-pools file), then starts the operator impersonating the ServiceAccount, without leader
 * election, and waits until its caches are synced. `dir` holds its kubeconfig.
 */
export async function startOperator(
  cluster: Cluster,
  dir: string,
  options: { nodePoolsFile: string; extraArgs?: string[]; metricsApi?: boolean },
): Promise<OperatorProcess> {
  const operatorKubeconfig = await operatorIdentity(cluster, dir, options.nodePoolsFile);
  const op = await spawnOperator(operatorKubeconfig, ['--no-leader-elect', ...(options.extraArgs ?? [])]);
  const { proc, logs } = op;
  try {
    await waitFor(
      'the operator to sync its caches',
      async () => logs.some((l) => l.includes('"running"')) || proc.exitCode !== null,
      90_000,
    );
  } catch (error) {
    proc.kill('SIGKILL');
    throw new Error(`${(error as Error).message}; its log:\n${logs.slice(-30).join('\n')}`);
  }
  if (proc.exitCode !== null) throw new Error(`the operator exited (${proc.exitCode}):\n${logs.slice(-30).join('\n')}`);
  return op;
}

/** The address the activator's EndpointSlices carry (documentation range: nothing connects to it). */
export const ACTIVATOR_ADDRESS = '192.0.2.10';

/**
 * Operator flags for scaling with replicas run as local processes: the custom metrics API and
 * the activator, both on loopback (the activator on `activatorPort`, holding requests up to
 * `activatorTimeout`; the metrics API on `metricsApiPort`, default a free port).
 */
export async function loopbackScalingArgs(
  activatorPort: number,
  activatorTimeout: string,
  metricsApiPort?: number,
): Promise<string[]> {
  return [
    '--metrics-api',
    '--metrics-api-port',
    String(metricsApiPort ?? (await freePort())),
    '--metrics-api-bind-address',
    '127.0.0.1',
    '--activator-port',
    String(activatorPort),
    '--activator-bind-address',
    '127.0.0.1',
    '--activator-address',
    ACTIVATOR_ADDRESS,
    '--activator-timeout',
    activatorTimeout,
  ];
}
