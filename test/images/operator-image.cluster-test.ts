// The operator IMAGE against the real test control plane: operator/Dockerfile built with podman
// (test/images/build.ts), its entrypoint run with `buildah run --isolation chroot --network host`
// as the image's user, with the kubeconfig of the operator's ServiceAccount (bound to exactly its
// declared RBAC) mounted read-only, the way the chart runs it. What `cortex deploy` would apply
// (examples/batching's bundle ConfigMaps and RealtimeAPI) is applied with kubectl; the Deployment
// (with the runtime image and the bundle's init container), the Service and the API's status must
// appear, and a SIGTERM must stop the operator promptly with exit 0.
// Skips (and says why) where podman or buildah is missing. Not part of `npm run test:scenario`:
// `npm run test:cluster`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { ResultPromise } from 'execa';
import type { Cluster } from '../cluster/cluster.ts';
import { operatorIdentity } from '../helpers/identity.ts';
import { freePort } from '../helpers/local.ts';
import { startTestCluster } from '../helpers/test-cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import { operatorArgs } from '../helpers/operator.ts';
import { bundleObjects, packProject } from '../../cli/cluster/pack.ts';
import { realtimeApis } from '../../cli/cluster/manifests.ts';
import { loadProject } from '../../cli/config/index.ts';
import { IMAGES, buildImage, repoRoot } from './build.ts';
import { Containers, imageConfig, imagesUnavailable, signalCommand } from './containers.ts';

const BUILD_TIMEOUT_MS = 60 * 60_000; // cold: the cluster's binaries, mmdebstrap, two image builds
const NS = 'ml';
const GRACE_MS = 10_000; // operator/main.ts: the manager's grace period
const OPERATOR = `localhost/${IMAGES.operator.tag}`;
const RUNTIME = `localhost/${IMAGES.runtime.tag}`;
const log = (line: string) => process.stderr.write(`[operator-image] ${line}\n`);

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from kubectl, read field by field
type Obj = any;

const unavailable = await imagesUnavailable();
if (unavailable) log(`skipped: ${unavailable}`);

describe('the operator image reconciles a RealtimeAPI on the real control plane', { concurrency: false }, () => {
  const containers = new Containers('cortex-operator-image');
  let dir: string | undefined;
  let cluster: Cluster | undefined;
  let operator: ResultPromise<{ all: true; reject: false }> | undefined;
  const logs: string[] = [];

  before(
    async () => {
      if (unavailable) return;
      for (const name of ['operator', 'runtime'] as const) {
        log(`building ${IMAGES[name].tag}`);
        await buildImage(name, log);
      }
      let poolsFile: string;
      ({ dir, poolsFile, cluster } = await startTestCluster('cortex-operator-image-test', NS));
      const kubeconfig = await operatorIdentity(cluster, dir, poolsFile);

      // the kubeconfig as a mounted Secret: readable by the image's user only
      const { User, Entrypoint } = await imageConfig(OPERATOR);
      const [uid, gid = uid] = (User ?? '').split(':').map(Number);
      const secret = path.join(dir, 'operator-secret');
      mkdirSync(secret, { mode: 0o700 });
      copyFileSync(kubeconfig, path.join(secret, 'kubeconfig'));
      for (const p of [secret, path.join(secret, 'kubeconfig')]) chownSync(p, uid, gid);

      const healthPort = await freePort();
      const ctr = await containers.from(OPERATOR, 'operator');
      const command = [
        ...Entrypoint!,
        ...operatorArgs('/etc/cortex/kubeconfig', healthPort, RUNTIME),
        '--no-leader-elect',
      ];
      log(`buildah run ${OPERATOR}: ${command.join(' ')}`);
      operator = containers.run(ctr, command, { volumes: [`${secret}:/etc/cortex:ro`] });
      operator.all?.on('data', (chunk: Buffer) => logs.push(...chunk.toString().split('\n').filter(Boolean)));
      await waitFor(
        'the operator in its image to sync its caches',
        async () => operator?.exitCode !== null || logs.some((l) => l.includes('"running"')),
        90_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}; its log:\n${logs.slice(-30).join('\n')}`);
      });
      if (operator.exitCode !== null) throw new Error(`exited ${operator.exitCode}:\n${logs.slice(-30).join('\n')}`);
      const health = await fetch(`http://127.0.0.1:${healthPort}/healthz`);
      assert.equal(health.status, 200, 'the image serves /healthz on the host network');
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    await containers.removeAll();
    if (process.exitCode || process.env.CORTEX_TEST_OPERATOR_LOG) {
      process.stderr.write(`--- operator image log (last 60 lines) ---\n${logs.slice(-60).join('\n')}\n`);
    }
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('what cortex deploy applies becomes a Deployment, a Service and a status', { timeout: 120_000 }, async (t) => {
    if (unavailable) return t.skip(unavailable);
    const c = cluster!;
    const project = loadProject(path.join(repoRoot, 'examples', 'batching'));
    const packed = await packProject(project);
    const objects = [...bundleObjects(packed, NS), ...realtimeApis(project, packed.spec, NS)];
    await c.kubectl(['apply', '-f', '-'], { input: objects.map((o) => stringify(o)).join('---\n') });
    const name = project.apis[0].name;

    const deployment = await waitFor(
      `Deployment ${name}`,
      () => c.kubectl.json<Obj>(['get', 'deployment', name, '-n', NS]),
      30_000,
    );
    const pod = deployment.spec.template.spec;
    assert.equal(pod.containers[0].image, RUNTIME, "the operator image's --runtime-image");
    assert.ok(
      pod.initContainers.some((i: Obj) => i.name === 'unpack-bundle'),
      'the bundle is unpacked by an init container',
    );
    for (const i of pod.initContainers) assert.equal(i.image, RUNTIME, `init container ${i.name}`);
    const service = await waitFor(`Service ${name}`, () => c.kubectl.json<Obj>(['get', 'service', name, '-n', NS]));
    assert.deepEqual(service.spec.selector, { 'cortex.dev/api': name });

    const api = await waitFor(
      `the status of RealtimeAPI ${name}`,
      async () => {
        const a = await c.kubectl.json<Obj>(['get', 'realtimeapi', name, '-n', NS]);
        return a.status?.observedGeneration === a.metadata.generation && a.status.status === 'live' && a;
      },
      60_000,
    ).catch(async (error: Error) => {
      const a = await c.kubectl.json<Obj>(['get', 'realtimeapi', name, '-n', NS]).catch(() => undefined);
      throw new Error(`${error.message}; status: ${JSON.stringify(a?.status)}`);
    });
    log(`status: ${JSON.stringify(api.status)}`);
    assert.equal(api.status.endpoint, `http://${name}.${NS}.svc.cluster.local/`);
    // the bundle's ConfigMaps get the API as an owner
    for (const cm of packed.spec.configMaps) {
      const owners = (await c.kubectl.json<Obj>(['get', 'configmap', cm, '-n', NS])).metadata.ownerReferences ?? [];
      assert.ok(
        owners.some((o: Obj) => o.uid === api.metadata.uid),
        `${cm} is owned by ${name}: ${JSON.stringify(owners)}`,
      );
    }
  });

  test('SIGTERM stops the operator image promptly, exit 0', { timeout: 60_000 }, async (t) => {
    if (unavailable) return t.skip(unavailable);
    const start = performance.now();
    signalCommand(operator!, 'SIGTERM');
    const done = await operator!;
    const ms = performance.now() - start;
    log(`SIGTERM: exited ${done.exitCode} in ${Math.round(ms)} ms`);
    assert.equal(done.exitCode, 0, logs.slice(-20).join('\n'));
    assert.ok(ms < GRACE_MS, `exited in ${Math.round(ms)} ms, within the ${GRACE_MS} ms grace period`);
  });
});
