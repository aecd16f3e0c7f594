// The start of most cluster scenario tests: a temporary folder, a real control plane whose
// node pools file and state live in it, and the namespace the test's APIs go in.
import { mkdtempSync } from 'node:fs';
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
