// Code bundles on a real control plane (test/cluster: kube-apiserver, controller-manager with
// its garbage collector, scheduler, etcd, kwok nodes): bundles packed by the CLI's code, their
// ConfigMaps applied with plain kubectl as a GitOps tool would, and the operator as a local
// process impersonating a ServiceAccount bound to exactly the rules operator/rbac.ts declares.
// Owner references, release after a rollout, sharing, Kubernetes' own GC, a missing ConfigMap,
// the orphan sweep, and a user's ConfigMap that is never touched.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { bundleConfigMaps, bundleSpec, packBundle, type Bundle } from '../../cli/cluster/bundle.ts';
import type { Cluster } from '../cluster/cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import { startTestCluster } from '../helpers/test-cluster.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';

const BUILD_TIMEOUT_MS = 60 * 60_000;
const NS = 'ml';
/** The operator's --bundle-grace-period here: short, so the orphan sweep can be watched. */
const GRACE = '4s';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from kubectl, read field by field
type Obj = any;

describe('code bundles on a real control plane', { concurrency: false }, () => {
  let dir: string;
  let cluster: Cluster;
  let operator: OperatorProcess;
  let serial = 0;

  const k = (args: string[], input?: string) => cluster.kubectl(args, { input });
  const get = (kind: string, name: string): Promise<Obj> => cluster.kubectl.json(['get', kind, name, '-n', NS]);
  const exists = async (kind: string, name: string) =>
    (await k(['get', kind, name, '-n', NS, '--ignore-not-found', '-o', 'name'])) !== '';
  const owners = async (name: string): Promise<string[]> =>
    ((await get('configmap', name)).metadata.ownerReferences ?? []).map((r: Obj) => `${r.kind}/${r.name}`).sort();

  /** A project of its own (so its own bundle), packed by the CLI's code; `big`: spans two ConfigMaps. */
  async function bundle(big = false): Promise<Bundle> {
    const project = path.join(dir, `project-${++serial}`);
    mkdirSync(project);
    writeFileSync(
      path.join(project, 'cortex.yaml'),
      '- name: iris\n  predictor:\n    type: python\n    path: predictor.py\n',
    );
    writeFileSync(path.join(project, 'predictor.py'), `class PythonPredictor:\n    VERSION = ${serial}\n`);
    if (big) writeFileSync(path.join(project, 'weights.bin'), randomBytes(200 * 1024));
    return packBundle(project);
  }
  /** Client-side kubectl apply, as Argo CD syncs by default: the full chunk must fit its last-applied annotation. */
  const upload = (b: Bundle) =>
    k(
      ['apply', '-f', '-'],
      bundleConfigMaps(b, NS)
        .map((o) => stringify(o))
        .join('---\n'),
    );
  const names = (b: Bundle) => bundleSpec(b).configMaps;
  const applyApi = (name: string, predictor: Obj, spec: Obj = {}) =>
    k(
      ['apply', '--server-side', '--field-manager=test', '-f', '-'],
      JSON.stringify({
        apiVersion: 'cortex.dev/v1alpha1',
        kind: 'RealtimeAPI',
        metadata: { name, namespace: NS },
        spec: { ...spec, predictor: { type: 'python', path: 'predictor.py', ...predictor } },
      }),
    );
  const withBundle = (name: string, b: Bundle, spec: Obj = {}) => applyApi(name, { bundle: bundleSpec(b) }, spec);
  const mounts = (podSpec: Obj): string[] =>
    podSpec.volumes.find((v: Obj) => v.name === 'bundle').projected.sources.map((s: Obj) => s.configMap.name);
  const waitStatus = (name: string, word: string, timeoutMs = 60_000) =>
    waitFor(
      `${name} to be ${word}`,
      async () => {
        const api = await get('realtimeapi', name);
        return api.status?.status === word && api.status.observedGeneration === api.metadata.generation && api;
      },
      timeoutMs,
    );
  const waitOwners = (b: Bundle, expected: string[]) =>
    waitFor(`${names(b).join(', ')} owned by ${expected.join(', ')}`, async () => {
      for (const n of names(b)) if ((await owners(n)).join() !== expected.join()) return false;
      return true;
    });
  const waitGone = (b: Bundle, timeoutMs = 60_000) =>
    waitFor(
      `${names(b).join(', ')} to be deleted`,
      async () => {
        for (const n of names(b)) if (await exists('configmap', n)) return false;
        return true;
      },
      timeoutMs,
    );

  before(
    async () => {
      let poolsFile: string;
      ({ dir, poolsFile, cluster } = await startTestCluster('cortex-bundle-cluster-test', NS));
      operator = await startOperator(cluster, dir, {
        nodePoolsFile: poolsFile,
        extraArgs: ['--resync', '30s', '--bundle-grace-period', GRACE],
      });
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    await operator?.stop();
    const logs = operator?.logs ?? [];
    if (
      process.exitCode ||
      logs.some((l) => /"level":"(warning|error)"/.test(l)) ||
      process.env.CORTEX_TEST_OPERATOR_LOG
    ) {
      process.stderr.write(`--- operator log (last 60 lines) ---\n${logs.slice(-60).join('\n')}\n`);
    }
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  let a: Bundle;
  let b: Bundle;

  test(
    'an API gets an owner reference on each ConfigMap of its bundle (applied by plain kubectl apply), ' +
      'and its replicas mount them',
    async () => {
      a = await bundle(true);
      assert.equal(names(a).length, 2, 'a bundle over one chunk');
      await upload(a);
      await withBundle('iris', a);
      await waitOwners(a, ['RealtimeAPI/iris']);
      const api = await get('realtimeapi', 'iris');
      const ref = (await get('configmap', names(a)[0])).metadata.ownerReferences[0];
      assert.deepEqual(
        ref,
        { apiVersion: 'cortex.dev/v1alpha1', kind: 'RealtimeAPI', name: 'iris', uid: api.metadata.uid },
        'not a controller: bundles are shared',
      );
      const d = await waitFor('the Deployment', () => get('deployment', 'iris'));
      const sources = d.spec.template.spec.volumes
        .find((v: Obj) => v.name === 'bundle')
        .projected.sources.map((s: Obj) => s.configMap.name);
      assert.deepEqual(sources, names(a));
      await waitStatus('iris', 'live');
    },
  );

  test(
    'switching to bundle B: ' + 'A is deleted once the rollout is done (no replica mounts it), B is kept and owned',
    async () => {
      b = await bundle();
      await upload(b);
      await withBundle('iris', b);
      await waitOwners(b, ['RealtimeAPI/iris']);
      await waitGone(a);
      // by the time A was gone, no replica (not even a terminating one) mounted it any more
      const pods = (
        await cluster.kubectl.json<{ items: Obj[] }>(['get', 'pods', '-n', NS, '-l', 'cortex.dev/api=iris'])
      ).items;
      assert.ok(pods.length > 0);
      for (const pod of pods) assert.deepEqual(mounts(pod.spec), names(b), pod.metadata.name);
      await waitStatus('iris', 'live');
      assert.ok(await exists('configmap', names(b)[0]));
    },
  );

  test(
    'a rollout that cannot finish keeps the bundle its old replica mounts; ' + 'once it finishes, that bundle goes',
    async () => {
      const next = await bundle();
      await upload(next);
      // 100 CPUs fit no node: the new replica stays Pending, the old one (on B) keeps serving
      await withBundle('iris', next, { compute: { cpu: '100' } });
      await waitStatus('iris', 'compute unavailable');
      await waitOwners(next, ['RealtimeAPI/iris']);
      assert.deepEqual(
        mounts((await get('deployment', 'iris')).spec.template.spec),
        names(next),
        'the template has moved on',
      );
      await new Promise((resolve) => setTimeout(resolve, 3000)); // reconciles on pod events and status writes meanwhile
      assert.deepEqual(await owners(names(b)[0]), ['RealtimeAPI/iris'], 'B is still there and still owned');
      await withBundle('iris', next);
      await waitGone(b);
      await waitStatus('iris', 'live');
    },
  );

  test(
    'two APIs share a bundle: ' +
      "deleting one keeps it for the other, deleting both removes it (Kubernetes' garbage collector)",
    async () => {
      const c = await bundle();
      await upload(c);
      await withBundle('one', c);
      await withBundle('two', c);
      await waitOwners(c, ['RealtimeAPI/one', 'RealtimeAPI/two']);
      await k(['delete', 'realtimeapi', 'one', '-n', NS, '--wait=true']);
      // the GC drops the reference to the deleted owner and keeps the object for the remaining one
      await waitOwners(c, ['RealtimeAPI/two']);
      await waitStatus('two', 'live');
      await k(['delete', 'realtimeapi', 'two', '-n', NS, '--wait=true']);
      await waitGone(c);
    },
  );

  test(
    'a missing ConfigMap: the status names it and says to redeploy, no replicas are rolled out to it; ' +
      'uploading it heals the API',
    async () => {
      const d = await bundle(true);
      await k(['apply', '-f', '-'], stringify(bundleConfigMaps(d, NS)[0])); // the first chunk only
      await withBundle('wine', d);
      const api = await waitStatus('wine', 'error');
      assert.match(
        api.status.message,
        new RegExp(`^1 of the 2 ConfigMaps of predictor.bundle is missing \\(ml/${names(d)[1]}\\).*Redeploy the API`),
      );
      assert.equal(api.status.conditions.find((c: Obj) => c.type === 'Ready').reason, 'BundleMissing');
      assert.equal(
        await exists('deployment', 'wine'),
        false,
        'no Deployment whose pods would wait for the ConfigMap forever',
      );
      // the ConfigMap's arrival alone (a watch event, not a resync) brings the API back
      await upload(d);
      await waitStatus('wine', 'live', 20_000);
      await waitOwners(d, ['RealtimeAPI/wine']);
    },
  );

  test(
    'an upload no API refers to is swept after the grace period; ' +
      "a user's ConfigMap a bundle refers to is mounted but never owned or deleted",
    async () => {
      const orphan = await bundle();
      await upload(orphan);
      assert.ok(await exists('configmap', names(orphan)[0]));
      await waitGone(orphan, 30_000);

      // a ConfigMap without the bundle label, named in predictor.bundle by hand
      const own = await bundle();
      const cm = bundleConfigMaps(own, NS)[0];
      cm.metadata!.name = 'hand-made';
      delete cm.metadata!.labels;
      await k(['apply', '-f', '-'], stringify(cm));
      await applyApi('hand', { bundle: { configMaps: ['hand-made'], sha256: own.sha256 } });
      await waitStatus('hand', 'live');
      const next = await bundle();
      await upload(next);
      await withBundle('hand', next);
      await waitOwners(next, ['RealtimeAPI/hand']);
      await waitStatus('hand', 'live');
      // the sweep runs every 2 s here: give it several rounds
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      assert.deepEqual(await owners('hand-made'), []);
      assert.ok(await exists('configmap', 'hand-made'), 'not a bundle: never deleted');
      assert.ok(await exists('configmap', names(next)[0]), 'in use: kept past the grace period');
    },
  );
});
