// `cortex build` for real: the runtime image built with podman (test/images/build.ts), then a
// small Python project with a requirements.txt (six, from PyPI) and a dependencies.sh baked FROM
// it by the CLI, then the image run as the operator would run it for an image-only RealtimeAPI
// (desiredDeployment with predictor.image and no bundle: its command and env, only --port
// changed, in `buildah run --isolation chroot --network host`, as crun cannot start containers
// on this kernel). The prediction proves the baked virtualenv and dependencies.sh's file are
// used; the replica's log proves neither dependencies.sh nor pip ran again at start.
// Skips (and says why) where podman or buildah is missing.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { applyDefaults } from '../../operator/api/v1alpha1/index.ts';
import { selectPool } from '../../operator/node-pools.ts';
import { PROJECT_DIR, desiredDeployment } from '../../operator/reconcilers/deployment.ts';
import type { ApiInstance, ChildConfig } from '../../operator/reconcilers/types.ts';
import { realtimeApis } from '../../cli/cluster/manifests.ts';
import { loadProject } from '../../cli/config/index.ts';
import { DEFAULT_RUNTIME_IMAGE } from '../../operator/flags.ts';
import { freePort } from '../helpers/local.ts';
import { parseLogs } from '../helpers/serve.ts';
import { waitForReadyz } from '../helpers/wait.ts';
import { IMAGES, buildImage, formatSteps, imageSize, repoRoot } from '../images/build.ts';
import { Containers, imageConfig, imagesUnavailable, signalCommand } from '../images/containers.ts';

const log = (line: string) => process.stderr.write(`[build-image] ${line}\n`);
const cortexBin = path.join(repoRoot, 'cli', 'bin', 'cortex.ts');
const TAG = `localhost/cortex-build-test/baked:${process.pid}`;
const API = 'baked';

const unavailable = await imagesUnavailable();
if (unavailable) log(`skipped: ${unavailable}`);

const PROJECT: Record<string, string> = {
  'cortex.yaml': `- name: ${API}\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n`,
  'requirements.txt': 'six==1.17.0\n',
  // /opt is root's: the file exists only if the script ran as root, while the image was built
  'dependencies.sh':
    'set -eu\necho "dependencies.sh runs as uid $(id -u)"\n' +
    'mkdir -p /opt/baked-test\necho "made by dependencies.sh as uid $(id -u)" > /opt/baked-test/marker\n',
  'predictor.py': `import six


class PythonPredictor:
    def __init__(self, config):
        with open("/opt/baked-test/marker") as f:
            self.marker = f.read().strip()

    def predict(self, payload):
        return {"six": six.__version__, "six_file": six.__file__, "marker": self.marker, "echo": payload}
`,
  '.cortexignore': 'notes.txt\n',
  'notes.txt': 'not for the image\n',
};

describe('cortex build, for real: an image that serves without installing anything at start', () => {
  let dir: string;
  let project: string;
  const containers = new Containers('cortex-build-test');
  let built = false;

  before(
    async () => {
      if (unavailable) return;
      dir = mkdtempSync(path.join(tmpdir(), 'cortex-build-image-'));
      project = path.join(dir, 'project');
      mkdirSync(project);
      for (const [name, content] of Object.entries(PROJECT)) writeFileSync(path.join(project, name), content);
      chmodSync(path.join(project, 'dependencies.sh'), 0o755);
      const start = performance.now();
      const steps = await buildImage('runtime', (line) => log(line));
      log(
        `${IMAGES.runtime.tag}: built in ${((performance.now() - start) / 1000).toFixed(1)} s, ` +
          `${((await imageSize(`localhost/${IMAGES.runtime.tag}`)) / 1e6).toFixed(1)} MB\n${formatSteps(steps)}`,
      );
    },
    { timeout: 30 * 60_000 },
  );

  after(async () => {
    await containers.removeAll();
    if (built) {
      const r = await execa('podman', ['rmi', TAG], { reject: false });
      if (r.exitCode !== 0) log(`podman rmi ${TAG}: ${r.stderr}`);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test(
    'cortex build bakes the project and its dependencies; the operator-rendered replica serves it',
    { timeout: 10 * 60_000 },
    async (t) => {
      if (unavailable) return t.skip(unavailable);
      assert.equal(IMAGES.runtime.tag, DEFAULT_RUNTIME_IMAGE, 'cortex build starts FROM the image built above');

      // the CLI as a user runs it
      const start = performance.now();
      const build = await execa(
        process.execPath,
        [cortexBin, 'build', project, '-t', TAG, '--isolation', 'chroot', '--network', 'host'],
        { reject: false, all: true },
      );
      const seconds = (performance.now() - start) / 1000;
      built = true;
      assert.equal(build.exitCode, 0, build.all);
      assert.equal(build.stdout, `predictor.image: ${TAG}`);
      assert.match(
        build.stderr,
        new RegExp(`^building ${TAG} with podman FROM ${DEFAULT_RUNTIME_IMAGE}: 4 files`, 'm'),
      );
      assert.match(build.stderr, /dependencies\.sh runs as uid 0/);
      assert.match(build.stderr, /Successfully installed six-1\.17\.0/);
      const size = Number((await execa('podman', ['image', 'inspect', '--format', '{{.Size}}', TAG])).stdout);
      log(`cortex build: ${seconds.toFixed(1)} s, ${TAG}: ${(size / 1e6).toFixed(1)} MB`);

      // the image: the project (no hidden or .cortexignore'd files), the user, no trace of the host's CA
      const inspect = await imageConfig(TAG);
      assert.equal(inspect.User, '10001:10001');
      assert.ok(inspect.Env?.includes('CORTEX_BAKED_DEPS=/opt/cortex/baked'), JSON.stringify(inspect.Env));
      assert.ok(!inspect.Env?.some((e) => /^(NODE_EXTRA_CA_CERTS|PIP_CERT)=/.test(e)), JSON.stringify(inspect.Env));

      // the line printed goes into cortex.yaml, as the user is told; then the RealtimeAPI that
      // `cortex deploy --no-bundle` applies, and its Deployment as the operator renders it
      const image = build.stdout.replace(/^predictor\.image: /, '');
      writeFileSync(
        path.join(project, 'cortex.yaml'),
        PROJECT['cortex.yaml'].replace('    type: python\n', `    type: python\n    image: ${image}\n`),
      );
      const [object] = realtimeApis(loadProject(project), undefined, 'ml');
      const spec = applyDefaults(API, object.spec);
      assert.equal(spec.predictor?.image, TAG);
      const api: ApiInstance = { name: API, namespace: 'ml', uid: 'uid-build-image', generation: 1, spec };
      const choice = selectPool(spec.compute, { pools: [], source: 'test' });
      assert.ok(choice.placement, choice.unavailable);
      const config: ChildConfig = {
        runtimeImage: DEFAULT_RUNTIME_IMAGE,
        hpaTolerance: true,
        clusterDomain: 'cluster.local',
        placement: choice.placement,
      };
      const pod = desiredDeployment(api, config).spec!.template.spec!;
      assert.equal(pod.initContainers, undefined, 'no bundle, no init container');
      assert.equal(pod.volumes, undefined);
      const [main] = pod.containers;
      assert.equal(main.image, TAG);
      const command = [...main.command!];
      assert.ok(command.includes(PROJECT_DIR), command.join(' '));
      const port = await freePort();
      command[command.indexOf('--port') + 1] = String(port); // the pod's port, on the host's network here

      const ctr = await containers.from(TAG, 'api');
      const ls = await containers.run(ctr, ['ls', '-A', PROJECT_DIR]);
      assert.deepEqual(ls.stdout.split('\n').sort(), [
        'cortex.yaml',
        'dependencies.sh',
        'predictor.py',
        'requirements.txt',
      ]);
      const ca = await containers.run(ctr, ['ls', '/run']);
      assert.doesNotMatch(ca.stdout, /cortex-host-ca/, 'the CA was a secret mount of the RUN step only');

      const env = Object.fromEntries((main.env ?? []).map((e) => [e.name, String(e.value)]));
      log(`running ${command.join(' ')} in ${TAG}`);
      const started = performance.now();
      const server = containers.run(ctr, command, { env });
      let out = '';
      server.all.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const url = `http://127.0.0.1:${port}`;
      await waitForReadyz('cortex serve in the built image to be ready', url, server, () => out);
      log(`ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);

      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ hello: 'baked' }),
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body.six, '1.17.0');
      assert.match(
        String(body.six_file),
        /^\/opt\/cortex\/baked\/venvs\/[0-9a-f]+\/lib\/python3[.\d]*\/site-packages\/six\.py$/,
      );
      assert.equal(body.marker, 'made by dependencies.sh as uid 0');
      assert.deepEqual(body.echo, { hello: 'baked' });

      // at start: the baked ones used, neither dependencies.sh nor pip run
      const messages = parseLogs(out);
      const said = (re: RegExp) => messages.some((m) => re.test(String(m.message)));
      assert.ok(said(/dependencies\.sh ran when the image was built/), out);
      assert.ok(said(/using the dependencies baked into the image/), out);
      assert.ok(!said(/^running dependencies\.sh/), out);
      assert.ok(!said(/installing requirements\.txt|dependencies installed/), out);
      assert.ok(!messages.some((m) => m.source === 'pip' || m.source === 'dependencies.sh'), out);

      // SIGTERM to cortex serve (buildah would kill it outright): it drains and exits 0
      signalCommand(server);
      const ended = await server;
      assert.equal(ended.exitCode, 0, out);
    },
  );
});
