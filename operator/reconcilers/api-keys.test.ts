import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults } from '../api/v1alpha1/index.ts';
import { selectPool } from '../node-pools.ts';
import { desiredDeployment } from './deployment.ts';
import { API_KEYS_DIR_ENV, API_KEYS_MOUNT, apiKeysSecretName } from './api-keys.ts';
import type { ApiInstance, ChildConfig } from './types.ts';

function deployment(auth: 'none' | 'api_key') {
  const a: ApiInstance = {
    name: 'iris',
    namespace: 'ml',
    uid: 'uid-1',
    generation: 1,
    spec: applyDefaults('iris', { predictor: { type: 'python', path: 'p.py' }, networking: { auth } }),
  };
  const choice = selectPool(a.spec.compute, {
    pools: [{ name: 'cpu', nodeSelector: {}, tolerations: [] }],
    source: 't',
  });
  const config: ChildConfig = {
    runtimeImage: 'cortex/runtime:test',
    hpaTolerance: true,
    clusterDomain: 'cluster.local',
    placement: choice.placement!,
  };
  return desiredDeployment(a, config).spec!.template.spec!;
}

test('auth: api_key mounts the keys Secret (optional, read-only) and tells cortex serve where', () => {
  const pod = deployment('api_key');
  assert.deepEqual(
    pod.volumes?.find((v) => v.name === 'api-keys'),
    { name: 'api-keys', secret: { secretName: apiKeysSecretName('iris'), optional: true, defaultMode: 0o444 } },
  );
  const c = pod.containers[0];
  assert.deepEqual(
    c.volumeMounts?.find((m) => m.name === 'api-keys'),
    {
      name: 'api-keys',
      mountPath: API_KEYS_MOUNT,
      readOnly: true,
    },
  );
  assert.equal(c.env?.find((e) => e.name === API_KEYS_DIR_ENV)?.value, API_KEYS_MOUNT);
  assert.equal(apiKeysSecretName('iris'), 'cortex-api-keys-iris');
});

test('auth: none has no keys volume and no variable: cortex serve asks for no key', () => {
  const pod = deployment('none');
  assert.equal(
    pod.volumes?.find((v) => v.name === 'api-keys'),
    undefined,
  );
  assert.equal(
    pod.containers[0].env?.find((e) => e.name === API_KEYS_DIR_ENV),
    undefined,
  );
});
