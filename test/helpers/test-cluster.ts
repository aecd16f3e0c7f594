// The start of most cluster scenario tests: a temporary folder, a real control plane whose
// node pools file and state live in it, and the namespace the test's APIs go in.
import { mkdtempSync, rmSync } from 'node:fs';
import { after, before } from 'node:test';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCluster, type Cluster, type ClusterOptions } from '../cluster/cluster.ts';

export interface TestCluster {
  /** The test's own folder (removed by the test when it ends). */
  dir: string;
  /** The node pools file the cluster registered (startOperator reads it). */
  poolsFile: string;
  cluster: Cluster;
}

/** Starts a cluster in a new folder named after `prefix` and creates `namespace` in it. */
export async function startTestCluster(
  prefix: string,
  namespace: string,
  options: Omit<ClusterOptions, 'stateDir' | 'nodePoolsFile'> = {},
): Promise<TestCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
  const poolsFile = path.join(dir, 'node-pools.yaml');
  const cluster = await startCluster({ ...options, stateDir: path.join(dir, 'state'), nodePoolsFile: poolsFile });
  await cluster.kubectl(['create', 'namespace', namespace]);
  return { dir, poolsFile, cluster };
}

/** How long a suite may take to start its cluster: a cold start builds the control plane. */
export const CLUSTER_BUILD_TIMEOUT_MS = 60 * 60_000;

export interface SuiteCluster extends TestCluster {
  /** `kubectl apply --server-side` of one object, as field manager `test`. */
  apply(obj: unknown): Promise<unknown>;
}

/**
 * For an admission-only suite: starts a cluster before the enclosing `describe`'s tests and stops
 * it (and removes its folder) after them. Read the fields inside tests, once `before` has run.
 */
export function suiteCluster(prefix: string, namespace: string): SuiteCluster {
  const suite = {
    apply: (obj: unknown) =>
      suite.cluster.kubectl(['apply', '--server-side', '--field-manager=test', '-f', '-'], {
        input: JSON.stringify(obj),
      }),
  } as SuiteCluster;
  before(async () => Object.assign(suite, await startTestCluster(prefix, namespace)), {
    timeout: CLUSTER_BUILD_TIMEOUT_MS,
  });
  after(async () => {
    await suite.cluster?.stop();
    if (suite.dir) rmSync(suite.dir, { recursive: true, force: true });
  });
  return suite;
}
