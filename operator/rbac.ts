// Every permission the operator needs, gathered from the code that needs it (each reconciler,
// the status derivation, the node-pool source, the controller), merged, and rendered as RBAC
// objects: a ClusterRole for what lives in every namespace, a Role in the operator's own
// namespace for its configuration. The Helm chart renders these (files/rbac-rules.yaml,
// generated); tests bind exactly them to a ServiceAccount and run the operator as it.

import { nodePoolsRbac } from './node-pools-source.ts';
import { CHILDREN, realtimeApiRbac } from './realtimeapi-controller.ts';
import { statusRbac } from './status.ts';
import type { PolicyRule } from './reconcilers/types.ts';
import type { KubeObject } from './kube/client.ts';
import { eventsRbac } from './events.ts';
import { leaderElectionRbac } from './controller/leader.ts';
import { metricsAdapterRbac } from './metrics-adapter/rbac.ts';
import { bundleRbac } from './reconcilers/bundle.ts';
import { scaleToZeroRbac } from './scale-to-zero/index.ts';
import { activatorRbac } from './activator/kube-backend.ts';
import { routeRbac } from './routes/desired.ts';
import { splitterRbac } from './trafficsplitter-controller.ts';
import { batchJobRbac } from './batchjob-controller.ts';
import { taskJobRbac } from './taskjob-controller.ts';
import { jobApiBundleRbac } from './reconcilers/job-api-bundles.ts';

/** The rules as declared next to their code. */
export const DECLARED_RULES: PolicyRule[] = [
  ...realtimeApiRbac,
  ...CHILDREN.flatMap((c) => c.rbac),
  ...bundleRbac,
  ...statusRbac,
  ...nodePoolsRbac,
  ...eventsRbac,
  ...leaderElectionRbac,
  ...metricsAdapterRbac,
  ...scaleToZeroRbac,
  ...activatorRbac,
  ...routeRbac,
  ...splitterRbac,
  ...batchJobRbac,
  ...taskJobRbac,
  ...jobApiBundleRbac,
];

type Rule = Omit<PolicyRule, 'scope'>;

/** Rules of one scope, merged: one rule per (apiGroup, resource, resourceNames) with the union of verbs. */
export function mergeRules(rules: PolicyRule[]): Rule[] {
  const merged = new Map<string, Rule>();
  for (const r of rules) {
    for (const group of r.apiGroups) {
      for (const resource of r.resources) {
        const key = JSON.stringify([group, resource, r.resourceNames ?? []]);
        const cur = merged.get(key) ?? {
          apiGroups: [group],
          resources: [resource],
          verbs: [],
          ...(r.resourceNames ? { resourceNames: [...r.resourceNames] } : {}),
        };
        cur.verbs = [...new Set([...cur.verbs, ...r.verbs])].sort();
        merged.set(key, cur);
      }
    }
  }
  return [...merged.values()].sort((a, b) =>
    `${a.apiGroups[0]}/${a.resources[0]}`.localeCompare(`${b.apiGroups[0]}/${b.resources[0]}`),
  );
}

export function operatorRules(): { cluster: Rule[]; namespace: Rule[] } {
  return {
    cluster: mergeRules(DECLARED_RULES.filter((r) => (r.scope ?? 'cluster') === 'cluster')),
    namespace: mergeRules(DECLARED_RULES.filter((r) => r.scope === 'operator-namespace')),
  };
}

export interface RbacOptions {
  /** The operator's namespace (its ServiceAccount and node-pools ConfigMap live there). */
  namespace: string;
  serviceAccount: string;
  /** Name of the roles and bindings. Default: cortex-operator. */
  name?: string;
}

/** ClusterRole + ClusterRoleBinding + Role + RoleBinding for the operator's ServiceAccount. */
export function rbacManifests(options: RbacOptions): KubeObject[] {
  const name = options.name ?? 'cortex-operator';
  const { cluster, namespace } = operatorRules();
  const subject = { kind: 'ServiceAccount', name: options.serviceAccount, namespace: options.namespace };
  const labels = { 'app.kubernetes.io/name': 'cortex-operator' };
  return [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name, labels }, rules: cluster },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [subject],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name, namespace: options.namespace, labels },
      rules: namespace,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name, namespace: options.namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [subject],
    },
  ];
}
