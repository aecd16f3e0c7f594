import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DECLARED_RULES, mergeRules, operatorRules, rbacManifests } from './rbac.ts';
import { CHILDREN } from './realtimeapi-controller.ts';

test('every child reconciler declares what it writes: create + patch (server-side apply) and watch', () => {
  for (const child of CHILDREN) {
    const r = child.rbac.find((rule) => rule.resources.includes(child.resource.plural));
    assert.ok(r, `${child.resource.kind} declares no rule`);
    assert.deepEqual(r.apiGroups, [child.resource.group]);
    for (const verb of ['get', 'list', 'watch', 'create', 'patch'])
      assert.ok(r.verbs.includes(verb), `${child.resource.kind}: ${verb}`);
    assert.ok(!r.verbs.includes('delete'), 'children are deleted by garbage collection, not by the operator');
  }
});

test('merged rules: one per resource, the union of verbs, nothing wider than declared', () => {
  const { cluster, namespace } = operatorRules();
  const find = (group: string, resource: string) =>
    cluster.find((r) => r.apiGroups[0] === group && r.resources[0] === resource);
  assert.deepEqual(find('cortex.dev', 'realtimeapis')?.verbs, ['get', 'list', 'watch']);
  assert.deepEqual(find('cortex.dev', 'realtimeapis/status')?.verbs, ['get', 'patch', 'update']);
  assert.deepEqual(find('', 'pods')?.verbs, ['get', 'list', 'watch']);
  // bundle ConfigMaps live next to the APIs: owner references (patch) and unused ones deleted
  // (the node pools' ConfigMap needs only the Role)
  assert.deepEqual(find('', 'configmaps')?.verbs, ['delete', 'get', 'list', 'patch', 'watch']);
  assert.deepEqual(find('', 'events')?.verbs, ['create', 'patch'], 'Events on the APIs');
  assert.equal(find('coordination.k8s.io', 'leases'), undefined, 'the leader Lease only in the operator namespace');
  assert.deepEqual(namespace, [
    { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create', 'get', 'update'] },
  ]);
  for (const r of [...cluster, ...namespace]) {
    assert.ok(!r.verbs.includes('*') && !r.resources.includes('*') && !r.apiGroups.includes('*'), 'no wildcards');
  }
  assert.deepEqual(
    mergeRules([
      { apiGroups: ['a'], resources: ['x', 'y'], verbs: ['get'] },
      { apiGroups: ['a'], resources: ['x'], verbs: ['list', 'get'] },
    ]),
    [
      { apiGroups: ['a'], resources: ['x'], verbs: ['get', 'list'] },
      { apiGroups: ['a'], resources: ['y'], verbs: ['get'] },
    ],
  );
  assert.ok(DECLARED_RULES.length >= 7);
});

test('manifests bind the rules to the ServiceAccount', () => {
  const objs = rbacManifests({ namespace: 'cortex-system', serviceAccount: 'op' });
  assert.deepEqual(
    objs.map((o) => o.kind),
    ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'],
  );
  for (const binding of [objs[1], objs[3]]) {
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'op', namespace: 'cortex-system' }]);
  }
  assert.equal(objs[2].metadata?.namespace, 'cortex-system');
});
