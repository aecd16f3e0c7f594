import { test } from 'node:test';
import assert from 'node:assert/strict';
import { operatorRules } from '../rbac.ts';
import { metricsAdapterRbac } from './rbac.ts';

test("the operator's RBAC includes what the metrics API needs, and the front proxy's ConfigMap only by name", () => {
  const { cluster } = operatorRules();
  const has = (group: string, resource: string, verb: string, names?: string[]) =>
    cluster.some(
      (r) =>
        r.apiGroups.includes(group) &&
        r.resources.includes(resource) &&
        r.verbs.includes(verb) &&
        JSON.stringify(r.resourceNames) === JSON.stringify(names),
    );
  assert.ok(has('authorization.k8s.io', 'subjectaccessreviews', 'create'), 'SubjectAccessReviews');
  assert.ok(has('', 'configmaps', 'get', ['extension-apiserver-authentication']), 'the front-proxy settings');
  for (const verb of ['list', 'watch']) {
    assert.ok(has('', 'pods', verb), `pods: ${verb}`);
    assert.ok(has('cortex.dev', 'realtimeapis', verb), `realtimeapis: ${verb}`);
  }
  const configmaps = metricsAdapterRbac.filter((r) => r.resources.includes('configmaps'));
  assert.deepEqual(
    configmaps.map((r) => [r.verbs, r.resourceNames]),
    [[['get'], ['extension-apiserver-authentication']]],
    'no wider ConfigMap access than that one object',
  );
  assert.ok(
    !metricsAdapterRbac.some((r) => r.resources.includes('tokenreviews')),
    'no bearer tokens are accepted, so no TokenReviews',
  );
});
