import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { applyDefaults, type BundleSpec } from '../api/v1alpha1/index.ts';
import { deriveStatus } from '../status.ts';
import { desiredDeployment } from './deployment.ts';
import { bundleConfigMapName } from './bundle-names.ts';
import {
  bundleOwnerReference,
  bundlesInUse,
  missingMessage,
  mountedConfigMaps,
  planRelease,
  planSweep,
  releaseWrite,
  unusable,
  withOwner,
  type ConfigMapMeta,
} from './bundle.ts';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const A0 = bundleConfigMapName(SHA_A, 0);
const A1 = bundleConfigMapName(SHA_A, 1);
const B0 = bundleConfigMapName(SHA_B, 0);
const bundleA: BundleSpec = { configMaps: [A0, A1], sha256: SHA_A };
const bundleB: BundleSpec = { configMaps: [B0], sha256: SHA_B };
const iris = { name: 'iris', namespace: 'ml', uid: 'uid-iris' };
const wine = { name: 'wine', namespace: 'ml', uid: 'uid-wine' };

function cm(
  name: string,
  options: {
    owners?: { name: string; uid: string }[];
    bundle?: boolean;
    created?: string;
    deleting?: boolean;
    rv?: string;
  } = {},
): ConfigMapMeta {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace: 'ml',
      uid: `uid-${name}`,
      resourceVersion: options.rv ?? '7',
      creationTimestamp: options.created ?? '2030-01-01T00:00:00Z',
      labels: options.bundle === false ? {} : { 'cortex.dev/bundle': name.split('-')[2] ?? 'x' },
      ...(options.owners ? { ownerReferences: options.owners.map(bundleOwnerReference) } : {}),
      ...(options.deleting ? { deletionTimestamp: '2030-01-01T00:00:00Z' } : {}),
    },
  };
}

function pod(phase: string, configMaps: string[]): V1Pod {
  return {
    metadata: { name: `p-${phase}`, namespace: 'ml' },
    spec: {
      containers: [],
      volumes: [{ name: 'bundle', projected: { sources: configMaps.map((name) => ({ configMap: { name } })) } }],
    },
    status: { phase },
  };
}

test('the GC sees exactly the ConfigMaps the desired Deployment mounts from predictor.bundle', () => {
  const spec = applyDefaults('iris', { predictor: { type: 'python', path: 'p.py', bundle: bundleA } });
  const d = desiredDeployment(
    { ...iris, generation: 1, spec },
    {
      runtimeImage: 'rt',
      hpaTolerance: true,
      clusterDomain: 'cluster.local',
      placement: { pools: [], tolerations: [] },
    },
  );
  assert.deepEqual(mountedConfigMaps(d.spec?.template.spec), [A0, A1]);
});

test(
  "in use: the spec's bundle, the Deployment template's (not yet updated) " +
    "and unfinished pods' (old replicas), not finished pods'",
  () => {
    const template = {
      spec: {
        selector: {},
        template: {
          spec: {
            containers: [],
            volumes: [
              { name: 'x', configMap: { name: 'user-settings' } },
              { name: 'bundle', projected: { sources: [{ configMap: { name: A0 } }, { secret: { name: 's' } }] } },
            ],
          },
        },
      },
    };
    const used = bundlesInUse(bundleB, template, [
      pod('Running', [A1]),
      pod('Pending', ['pending-cm']),
      pod('Succeeded', ['done-cm']),
      pod('Failed', ['failed-cm']),
    ]);
    assert.deepEqual([...used].sort(), [A0, A1, B0, 'pending-cm', 'user-settings'].sort());
    assert.deepEqual([...bundlesInUse(undefined, undefined, [])], []);
  },
);

test('adopting: the API is added as a non-controller owner next to the others, once', () => {
  const shared = cm(A0, { owners: [wine] });
  assert.deepEqual(withOwner(shared, iris), [
    { apiVersion: 'cortex.dev/v1alpha1', kind: 'RealtimeAPI', name: 'wine', uid: 'uid-wine' },
    { apiVersion: 'cortex.dev/v1alpha1', kind: 'RealtimeAPI', name: 'iris', uid: 'uid-iris' },
  ]);
  assert.equal(withOwner(cm(A0, { owners: [iris] }), iris), undefined, 'already an owner: no write');
  assert.equal(bundleOwnerReference(iris).controller, undefined, 'not a controller: another API may share the bundle');
  assert.equal(unusable(undefined), true);
  assert.equal(unusable(cm(A0, { deleting: true })), true, 'being deleted counts as missing');
  assert.equal(unusable(cm(A0)), false);
});

test('a BatchAPI sharing the bundle is an owner of its own kind: deleting the RealtimeAPI leaves the bundle', () => {
  const nightly = { name: 'nightly', namespace: 'ml', uid: 'uid-nightly', kind: 'BatchAPI' };
  const shared = cm(A0, { owners: [iris] });
  assert.deepEqual(withOwner(shared, nightly), [
    { apiVersion: 'cortex.dev/v1alpha1', kind: 'RealtimeAPI', name: 'iris', uid: 'uid-iris' },
    { apiVersion: 'cortex.dev/v1alpha1', kind: 'BatchAPI', name: 'nightly', uid: 'uid-nightly' },
  ]);
  // the RealtimeAPI moving away from the bundle only removes itself: the BatchAPI still owns it
  const both = cm(A0, { owners: [iris, nightly], rv: '7' });
  assert.deepEqual(releaseWrite(both, iris, false), {
    op: 'set-owners',
    name: A0,
    resourceVersion: '7',
    ownerReferences: [bundleOwnerReference(nightly)],
  });
});

test('releasing: the last owner deletes (guarded by uid and resourceVersion), otherwise only removes itself', () => {
  assert.deepEqual(releaseWrite(cm(A0, { owners: [iris], rv: '42' }), iris, false), {
    op: 'delete',
    name: A0,
    resourceVersion: '42',
    uid: `uid-${A0}`,
  });
  assert.deepEqual(releaseWrite(cm(A0, { owners: [wine, iris] }), iris, false), {
    op: 'set-owners',
    name: A0,
    resourceVersion: '7',
    ownerReferences: [bundleOwnerReference(wine)],
  });
  // another API's spec refers to it but it has not adopted it yet: leave the ConfigMap for it
  assert.deepEqual(releaseWrite(cm(A0, { owners: [iris] }), iris, true), {
    op: 'set-owners',
    name: A0,
    resourceVersion: '7',
    ownerReferences: [],
  });
  assert.equal(releaseWrite(cm(A0, { owners: [wine] }), iris, false), undefined, 'not ours');
  assert.equal(
    releaseWrite(cm('settings', { owners: [iris], bundle: false }), iris, false),
    undefined,
    'never a ConfigMap that is not a bundle',
  );
  assert.equal(releaseWrite(cm(A0, { owners: [iris], deleting: true }), iris, false), undefined, 'already going');
});

test('planRelease: only the owned bundles that are not in use', () => {
  const owned = [cm(A0, { owners: [iris] }), cm(A1, { owners: [iris, wine] }), cm(B0, { owners: [iris] })];
  const writes = planRelease({ ...iris, bundle: bundleB }, owned, new Set([B0]), () => false);
  assert.deepEqual(
    writes.map((w) => [w.op, w.name]),
    [
      ['delete', A0],
      ['set-owners', A1],
    ],
  );
  assert.deepEqual(
    planRelease({ ...iris, bundle: bundleB }, owned, new Set([A0, A1, B0]), () => false),
    [],
    'a rollout in progress keeps the old bundle',
  );
});

test('the orphan sweep waits the grace period after creation and after this process first saw the orphan', () => {
  const grace = 60_000;
  const t0 = Date.parse('2030-01-01T00:00:00Z');
  const since = new Map<string, number>();
  const notUsed = () => false;
  const old = cm(A0, { created: '2029-01-01T00:00:00Z' });
  const young = cm(A1, { created: '2030-01-01T00:00:00Z' });
  // first sight: the old one too waits, as the operator may have just started
  assert.deepEqual(planSweep([old, young], notUsed, since, t0, grace), []);
  assert.deepEqual(planSweep([old, young], notUsed, since, t0 + grace - 1, grace), []);
  assert.deepEqual(
    planSweep([old, young], notUsed, since, t0 + grace, grace).map((d) => [
      d.namespace,
      d.name,
      d.uid,
      d.resourceVersion,
    ]),
    [
      ['ml', A0, `uid-${A0}`, '7'],
      ['ml', A1, `uid-${A1}`, '7'],
    ],
  );
  // the API server's clock says it was created after this process first saw it (skew): the grace
  // counts from the creation
  const later = cm(B0, { created: new Date(t0 + 30_000).toISOString() });
  const since2 = new Map<string, number>();
  assert.deepEqual(planSweep([later], notUsed, since2, t0 + 10_000, grace), []);
  assert.deepEqual(planSweep([later], notUsed, since2, t0 + 89_999, grace), []);
  assert.deepEqual(
    planSweep([later], notUsed, since2, t0 + 90_000, grace).map((d) => d.name),
    [B0],
  );
});

test(
  'the orphan sweep never deletes what is owned, referred to or mounted, nor non-bundles; ' +
    'a bundle that stops being an orphan starts over',
  () => {
    const grace = 1000;
    const since = new Map<string, number>();
    const t0 = Date.parse('2030-02-01T00:00:00Z');
    const all = [cm(A0, { owners: [iris] }), cm(A1), cm('settings', { bundle: false }), cm(B0, { deleting: true })];
    const used = (ns: string, name: string) => ns === 'ml' && name === A1;
    assert.deepEqual(planSweep(all, used, since, t0, grace), []);
    assert.deepEqual(planSweep(all, used, since, t0 + 10 * grace, grace), []);
    assert.equal(since.size, 0, 'nothing is an orphan');
    // A1 is orphaned at t1, adopted before the grace ends, orphaned again: the clock starts over
    const t1 = t0 + 20 * grace;
    assert.deepEqual(
      planSweep([cm(A1)], () => false, since, t1, grace),
      [],
    );
    assert.deepEqual(
      planSweep([cm(A1, { owners: [iris] })], () => false, since, t1 + grace / 2, grace),
      [],
    );
    assert.deepEqual(
      planSweep([cm(A1)], () => false, since, t1 + grace, grace),
      [],
    );
    assert.deepEqual(
      planSweep([cm(A1)], () => false, since, t1 + 2 * grace, grace).map((d) => d.name),
      [A1],
    );
  },
);

test('a missing bundle ConfigMap: status error with reason BundleMissing, naming it and saying to redeploy', () => {
  const message = missingMessage('ml', bundleA, [A1]);
  assert.equal(
    message,
    `1 of the 2 ConfigMaps of predictor.bundle is missing (ml/${A1}): the replicas cannot unpack the project. ` +
      'Redeploy the API (cortex deploy uploads the bundle again, ' +
      'or kubectl apply the ConfigMaps cortex render wrote); the running replicas are left as they are',
  );
  const status = deriveStatus({
    name: 'iris',
    namespace: 'ml',
    generation: 2,
    pods: [],
    now: new Date('2030-01-01T00:00:00Z'),
    bundleMissing: message,
  });
  assert.equal(status.status, 'error');
  assert.equal(status.message, message);
  assert.deepEqual(
    status.conditions?.map((c) => [c.type, c.status, c.reason]),
    [
      ['Ready', 'False', 'BundleMissing'],
      ['Progressing', 'False', 'BundleMissing'],
    ],
  );
  assert.match(missingMessage('ml', bundleB, [B0]), /^1 of the 1 ConfigMap of predictor.bundle is missing/);
});
