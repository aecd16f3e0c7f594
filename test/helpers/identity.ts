// Who a test's processes are to the API server: the cluster's admin kubeconfig with every
// request impersonating someone (a user, the operator's ServiceAccount), and the operator's
// ServiceAccount bound to exactly the RBAC rules operator/rbac.ts declares.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import type { Cluster } from '../cluster/cluster.ts';
import { NODE_POOLS_KEY } from '../../operator/node-pools.ts';
import { rbacManifests } from '../../operator/rbac.ts';

export const OPERATOR_NS = 'cortex-system';
export const OPERATOR_SA = 'cortex-operator';
export const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NS}:${OPERATOR_SA}`;

/** Writes the cluster's admin kubeconfig to `file` with every request impersonating `user`; returns `file`. */
export function kubeconfigAs(cluster: Pick<Cluster, 'kubeconfig'>, user: string, file: string): string {
  const kubeconfig = parse(readFileSync(cluster.kubeconfig, 'utf8'));
  for (const u of kubeconfig.users) u.user.as = user;
  writeFileSync(file, stringify(kubeconfig));
  return file;
}

/**
 * The operator's ServiceAccount with exactly its declared RBAC, and the node-pools ConfigMap it
 * reads (from the cluster's node-pools file); returns a kubeconfig (in `dir`) acting as it.
 */
export async function operatorIdentity(cluster: Cluster, dir: string, nodePoolsFile: string): Promise<string> {
  const k = (args: string[], input?: string) => cluster.kubectl(args, { input });
  await k(['create', 'serviceaccount', OPERATOR_SA, '-n', OPERATOR_NS]);
  await k(
    ['apply', '-f', '-'],
    rbacManifests({ namespace: OPERATOR_NS, serviceAccount: OPERATOR_SA })
      .map((o) => stringify(o))
      .join('---\n'),
  );
  await k([
    'create',
    'configmap',
    'cortex-node-pools',
    '-n',
    OPERATOR_NS,
    `--from-file=${NODE_POOLS_KEY}=${nodePoolsFile}`,
  ]);
  return kubeconfigAs(cluster, OPERATOR_USER, path.join(dir, 'operator.kubeconfig'));
}
