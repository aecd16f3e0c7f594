// The images built for real (podman, test/images/build.ts) and run (buildah, chroot isolation):
// each runs as a non-root user, its entrypoint starts, and the runtime image serves a real bundle
// the way a replica does. The runtime end to end: examples/batching packed by the CLI's packer,
// the Deployment the operator renders for a RealtimeAPI with that bundle, the bundle's chunks laid
// out as the projected ConfigMap volume would, the init container's command and env run in the
// image, then the main container's command and env (only --port changed: host network), a real
// prediction over HTTP, and a SIGTERM that drains and exits 0.
// runtime/Dockerfile.gpu is built with the Debian minbase standing in for the NVIDIA CUDA base,
// which cannot be pulled here: it checks the Dockerfile's steps, not the CUDA libraries.
// Skips (and says why) where podman or buildah is missing.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { V1Container } from '@kubernetes/client-node';
import { applyDefaults } from '../../operator/api/v1alpha1/index.ts';
import { selectPool } from '../../operator/node-pools.ts';
import { BUNDLE_DIR, PROJECT_DIR, bundlePart, desiredDeployment } from '../../operator/reconcilers/deployment.ts';
import type { ApiInstance, ChildConfig } from '../../operator/reconcilers/types.ts';
import { splitBundle } from '../../cli/cluster/bundle.ts';
import { packProject } from '../../cli/cluster/pack.ts';
import { realtimeApis } from '../../cli/cluster/manifests.ts';
import { loadProject } from '../../cli/config/index.ts';
import { freePort } from '../helpers/local.ts';
import { waitForReadyz } from '../helpers/wait.ts';
import { IMAGES, STAND_INS, buildImage, formatSteps, imageSize, repoRoot, type ImageName } from './build.ts';
import { isShared } from '../../operator/shared-modules.ts';
import { Containers, imageConfig, imagesUnavailable, signalCommand } from './containers.ts';

const BUILD_TIMEOUT_MS = 30 * 60_000; // cold: mmdebstrap + three builds with npm ci
const EXAMPLE = path.join(repoRoot, 'examples', 'batching');
const version = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
const log = (line: string) => process.stderr.write(`[images-run] ${line}\n`);
const ref = (name: ImageName) => `localhost/${IMAGES[name].tag}`;

const unavailable = await imagesUnavailable();
if (unavailable) log(`skipped: ${unavailable}`);

describe('the images, built with podman and run with buildah', { concurrency: false }, () => {
  const containers = new Containers('cortex-images-run');
  let dir: string;

  before(
    async () => {
      if (unavailable) return;
      dir = mkdtempSync(path.join(tmpdir(), 'cortex-images-run-'));
      for (const name of ['runtime', 'operator', 'gpu'] as const) {
        const start = performance.now();
        log(`building ${IMAGES[name].tag} (${IMAGES[name].dockerfile})`);
        const steps = await buildImage(name, (line) => log(line));
        const standIn = STAND_INS[name];
        log(
          `${IMAGES[name].tag}: ${((await imageSize(ref(name))) / 1e6).toFixed(1)} MB, built in ` +
            `${((performance.now() - start) / 1000).toFixed(1)} s\n${formatSteps(steps)}` +
            (standIn
              ? `\n  NOTE: ${standIn.arg}=${standIn.image} replaced ${standIn.replaces} (unreachable here)`
              : ''),
        );
      }
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    await containers.removeAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const name of ['runtime', 'operator', 'gpu'] as const) {
    test(`${IMAGES[name].tag}: a numeric non-root user, in the config and inside`, async (t) => {
      if (unavailable) return t.skip(unavailable);
      const config = await imageConfig(ref(name));
      assert.match(config.User ?? '', /^[1-9]\d*(:\d+)?$/, `.Config.User of ${ref(name)}`);
      const ctr = await containers.from(ref(name), `${name}-id`);
      const id = await containers.run(ctr, ['id', '-u']);
      assert.equal(id.exitCode, 0, id.all);
      assert.notEqual(id.stdout.trim(), '0');
      assert.equal(id.stdout.trim(), config.User!.split(':')[0]);
    });
  }

  for (const name of ['runtime', 'gpu'] as const) {
    test(`${IMAGES[name].tag}: cortex version is package.json's, and the entrypoint starts`, async (t) => {
      if (unavailable) return t.skip(unavailable);
      if (STAND_INS[name]) log(`${IMAGES[name].tag} runs on ${STAND_INS[name].image}, a stand-in for the CUDA base`);
      const ctr = await containers.from(ref(name), `${name}-version`);
      const v = await containers.run(ctr, ['cortex', 'version']);
      assert.equal(v.exitCode, 0, v.all);
      assert.match(v.stdout, new RegExp(`^cortex ${version.replaceAll('.', '\\.')} \\(node v24\\.`));
      const { Entrypoint } = await imageConfig(ref(name));
      assert.deepEqual(Entrypoint, ['cortex', 'serve']);
      const help = await containers.run(ctr, [...Entrypoint, '--help']);
      assert.equal(help.exitCode, 0, help.all);
      assert.match(help.stdout, /--api <name>/);
      // Python for Python predictors, and the venv module requirements.txt installs need
      const py = await containers.run(ctr, ['python3', '-c', 'import venv, sys; print(sys.version_info[0])']);
      assert.equal([py.exitCode, py.stdout.trim()].join(' '), '0 3', py.all);
    });
  }

  test(`${IMAGES.operator.tag}: the entrypoint (cortex-operator) starts`, async (t) => {
    if (unavailable) return t.skip(unavailable);
    const { Entrypoint } = await imageConfig(ref('operator'));
    assert.ok(
      Entrypoint?.some((a) => a.endsWith('cortex-operator.ts')),
      JSON.stringify(Entrypoint),
    );
    const ctr = await containers.from(ref('operator'), 'operator-help');
    const help = await containers.run(ctr, [...Entrypoint!, '--help']);
    assert.equal(help.exitCode, 0, help.all);
    assert.match(help.stdout, /--node-pools-configmap/);
    // the CLI stays out of the operator's image, and of the runtime only what the operator shares
    const ls = await containers.run(ctr, ['ls', '/opt/cortex']);
    assert.deepEqual(ls.stdout.split('\n').sort(), ['node_modules', 'operator', 'package.json', 'runtime']);
    const copied = await containers.run(ctr, [
      'find',
      '/opt/cortex/runtime',
      '-name',
      '*.ts',
      '-not',
      '-name',
      '*.test.ts',
    ]);
    const files = copied.stdout
      .trim()
      .split('\n')
      .map((f) => f.slice('/opt/cortex/'.length));
    assert.deepEqual(
      files.filter((f) => !isShared(f)),
      [],
      'only the modules operator/shared-modules.ts lists',
    );
  });

  test(
    `${IMAGES.runtime.tag} runs a bundle as the operator's Deployment says: init container, then cortex serve`,
    { timeout: 180_000 },
    async (t) => {
      if (unavailable) return t.skip(unavailable);
      // what `cortex deploy` applies: the bundle and a RealtimeAPI pointing at it
      const project = loadProject(EXAMPLE);
      const packed = await packProject(project);
      const [object] = realtimeApis(project, packed.spec, 'ml');
      const api: ApiInstance = {
        name: object.metadata.name,
        namespace: 'ml',
        uid: 'uid-images-run',
        generation: 1,
        spec: applyDefaults(object.metadata.name, object.spec),
      };
      const choice = selectPool(api.spec.compute, { pools: [], source: 'test' });
      assert.ok(choice.placement, choice.unavailable);
      const config: ChildConfig = {
        runtimeImage: ref('runtime'),
        hpaTolerance: true,
        clusterDomain: 'cluster.local',
        placement: choice.placement,
        // as the operator's default: a node's dependency cache (a hostPath) made shareable by a root init container
        dependencyCache: { hostPath: '/var/cache/cortex', maxSize: '1Gi' },
      };
      const pod = desiredDeployment(api, config).spec!.template.spec!;
      log(`bundle of ${EXAMPLE}: ${packed.files} files, ${packed.size} bytes, sha256 ${packed.bundle.sha256}`);

      // the volumes as the kubelet makes them: the projected ConfigMaps (one file per chunk), an emptyDir,
      // the hostPath (DirectoryOrCreate: root's)
      const hostDirs: Record<string, string> = {};
      for (const volume of pod.volumes ?? []) {
        const host = path.join(dir, `volume-${volume.name}`);
        mkdirSync(host);
        hostDirs[volume.name] = host;
        if (volume.emptyDir) chmodSync(host, 0o777); // an emptyDir is writable by any user
      }
      const parts = splitBundle(packed.bundle.tgz);
      const sources = pod.volumes?.find((v) => v.projected)?.projected?.sources ?? [];
      assert.equal(sources.length, parts.length, 'one ConfigMap per chunk');
      sources.forEach((s, i) => {
        const file = s.configMap!.items![0].path;
        assert.equal(file, bundlePart(i));
        writeFileSync(path.join(hostDirs.bundle, file), parts[i]);
      });
      const mountsOf = (c: V1Container) =>
        (c.volumeMounts ?? []).map((m) => `${hostDirs[m.name]}:${m.mountPath}${m.readOnly ? ':ro' : ''}`);
      const envOf = (c: V1Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, String(e.value)]));

      // every init container in order, as its user (securityContext.runAsUser, else the image's)
      const inits = pod.initContainers ?? [];
      const unpack = inits.find((c) => c.name === 'unpack-bundle');
      assert.ok(unpack, 'a bundle API has an unpack-bundle init container');
      assert.ok(mountsOf(unpack).some((m) => m.endsWith(`:${BUNDLE_DIR}:ro`)));
      for (const init of inits) {
        assert.equal(init.image, ref('runtime'));
        const ctr = await containers.from(init.image, `init-${init.name}`);
        const user = init.securityContext?.runAsUser;
        log(`init container ${init.name}${user === undefined ? '' : ` (user ${user})`}`);
        const r = await containers.run(ctr, init.command!, {
          volumes: mountsOf(init),
          env: envOf(init),
          user: user === undefined ? undefined : String(user),
        });
        assert.equal(r.exitCode, 0, `init container ${init.name} failed:\n${r.all}`);
      }
      for (const f of packed.bundle.files) assert.ok(existsSync(path.join(hostDirs.project, f.path)), f.path);
      assert.ok(!existsSync(path.join(hostDirs.project, '.bundle.tgz')), 'the joined tarball is removed');

      const [main] = pod.containers;
      assert.equal(main.image, ref('runtime'));
      const command = [...main.command!];
      assert.ok(command.includes(PROJECT_DIR), command.join(' '));
      const port = await freePort();
      command[command.indexOf('--port') + 1] = String(port); // the pod's port, on the host's network here
      const mainCtr = await containers.from(main.image!, 'api');
      log(`running ${command.join(' ')} in ${main.image}`);
      const server = containers.run(mainCtr, command, { volumes: mountsOf(main), env: envOf(main) });
      let out = '';
      server.all?.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const url = `http://127.0.0.1:${port}`;
      await waitForReadyz('cortex serve in the image to be ready', url, server, () => out);
      assert.match(out, /"serving batching on http:\/\/[^"]*:\d+ \(python predictor/);

      const sample = JSON.parse(readFileSync(path.join(EXAMPLE, 'sample.json'), 'utf8')) as { features: number[] };
      const res = await fetch(`${url}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(sample),
      });
      const body = (await res.json()) as { score: number; batch_size: number };
      assert.equal(res.status, 200, JSON.stringify(body));
      // the linear model of the example's config (weights, bias), evaluated here
      const { weights, bias } = project.apis[0].spec.predictor?.config as { weights: number[]; bias: number };
      const expected = sample.features.reduce((s, x, i) => s + weights[i] * x, bias);
      assert.ok(Math.abs(body.score - expected) < 1e-6, `${body.score} ≈ ${expected}`);
      assert.equal(body.batch_size, 1);

      const stopping = performance.now();
      signalCommand(server, 'SIGTERM');
      const done = await server;
      const seconds = (performance.now() - stopping) / 1000;
      log(`SIGTERM: cortex serve exited ${done.exitCode} in ${seconds.toFixed(1)} s`);
      assert.equal(done.exitCode, 0, `a SIGTERM drains and exits 0:\n${out}`);
      assert.ok(seconds < 10, `exited in ${seconds} s`);
    },
  );
});
