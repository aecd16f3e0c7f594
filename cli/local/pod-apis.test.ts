// Choosing the container runner of pod APIs, and the refusal when none works: runners that
// fail as they do on machines without a Docker daemon or where crun cannot start containers are
// small scripts on a PATH of their own; the last test detects this machine's real runners.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { execa } from 'execa';
import { loadProject } from '../config/load.ts';
import { CliError } from '../errors.ts';
import { checkPodApisLocally } from './pod-apis.ts';
import { detectRunner, runnersToTry } from './runners/runner.ts';

const V042 = new URL('../../test/eras/v0_42', import.meta.url).pathname;
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A PATH holding a script per runner: its exit code and what it says on stderr. */
function fakePath(runners: Record<string, { code: number; stderr?: string }>): string {
  const bin = mkdtempSync(path.join(tmpdir(), 'cortex-runners-'));
  dirs.push(bin);
  for (const [name, { code, stderr }] of Object.entries(runners)) {
    writeFileSync(path.join(bin, name), `#!/bin/sh\n${stderr ? `echo '${stderr}' >&2\n` : ''}exit ${code}\n`);
    chmodSync(path.join(bin, name), 0o755);
  }
  return `${bin}${path.delimiter}/nonexistent`; // nothing else: the runners of this machine stay out
}

const NO_DAEMON = { code: 1, stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' };
const NO_CRUN = { code: 126, stderr: 'Error: crun: setrlimit `RLIMIT_NOFILE`: Operation not permitted' };

async function refusal(env: NodeJS.ProcessEnv): Promise<string> {
  try {
    await checkPodApisLocally(loadProject(V042), env);
  } catch (error) {
    assert.ok(error instanceof CliError);
    return error.message;
  }
  assert.fail('a pod API was accepted with no working container runner');
}

test('no runner works: the deploy is refused, naming each runner tried, why it failed, and the fix', async () => {
  const message = await refusal({ PATH: fakePath({ docker: NO_DAEMON, podman: NO_CRUN }) });
  assert.match(message, /sentiment runs its own containers \(pod:\), and no container runner works on this machine/);
  assert.match(message, /docker: its daemon is not reachable \(docker info: Cannot connect to the Docker daemon/);
  assert.match(message, /podman: podman run cannot start a container \(Error: crun: setrlimit `RLIMIT_NOFILE`/);
  assert.match(message, /buildah: not installed \(not on PATH\)/);
  assert.match(message, /deploy to a cluster environment \(cortex deploy --env <name>; cortex env list\)/);
  // the commands that run it by hand, with the API's own settings, for the first runner installed
  assert.match(
    message,
    /docker run --rm -d --network host -e LABELS=negative,positive -e CORTEX_PORT=9000 --entrypoint python3 python:3.11-slim -u server.py --port 9000/,
  );
  assert.match(message, /cortex proxy --api sentiment --upstream-port 9000 --max-concurrency 2 --max-queue-length 3/);
  assert.match(message, /Nothing was deployed\.$/);
});

test('the first runner that works is chosen, not the first installed', async () => {
  const PATH = fakePath({ docker: NO_DAEMON, podman: NO_CRUN, buildah: { code: 0 } });
  const detection = await detectRunner({ PATH });
  assert.equal(detection.runner?.name, 'buildah');
  assert.deepEqual(
    detection.tried.map((t) => t.name),
    ['docker', 'podman'],
  );
  const works = await detectRunner({ PATH: fakePath({ docker: { code: 0 }, podman: NO_CRUN }) });
  assert.equal(works.runner?.name, 'docker');
  assert.deepEqual(works.tried, []);
});

test('CORTEX_CONTAINER_RUNNER limits the runners tried; an unknown name is an error', async () => {
  assert.deepEqual(runnersToTry({ CORTEX_CONTAINER_RUNNER: 'buildah' }), ['buildah']);
  assert.deepEqual(runnersToTry({}), ['docker', 'podman', 'buildah']);
  assert.throws(
    () => runnersToTry({ CORTEX_CONTAINER_RUNNER: 'lxc' }),
    /unknown runner lxc \(use docker, podman, buildah\)/,
  );
  const message = await refusal({
    PATH: fakePath({ docker: { code: 0 }, podman: NO_CRUN }),
    CORTEX_CONTAINER_RUNNER: 'podman',
  });
  assert.match(message, /Container runners tried: podman: podman run cannot start a container/);
});

test('a project of predictor APIs is not affected', async () => {
  const iris = new URL('../../examples/iris-classifier', import.meta.url).pathname;
  await checkPodApisLocally(loadProject(iris), { PATH: '/nonexistent' });
});

test("this machine's runners: the first that works is chosen, and a missing image is named with the fix", async (t) => {
  const detection = await detectRunner();
  if (detection.runner === undefined)
    return t.skip(`no container runner works here: ${JSON.stringify(detection.tried)}`);
  // docker answers only when its daemon does; podman only where `podman run` really starts a container
  for (const { name } of detection.tried) {
    const probe =
      name === 'docker'
        ? ['docker', ['info']]
        : name === 'podman'
          ? ['podman', ['run', '--rm', '--rootfs', '/', 'true']]
          : ['buildah', ['--version']];
    const r = await execa(probe[0] as string, probe[1] as string[], { reject: false });
    assert.notEqual(r.exitCode, 0, `${name} was passed over though it works`);
  }
  const missing = await detection.runner.missingImage('localhost/cortex-ts/no-such-image:0');
  assert.match(missing ?? '', /image localhost\/cortex-ts\/no-such-image:0 is not among .* does not pull: build it/);
});

test("a deploy whose image is not in the runner's local images stops before anything changes", async (t) => {
  const detection = await detectRunner();
  if (detection.runner === undefined) return t.skip('no container runner works here');
  const message = await refusal(process.env); // python:3.11-slim: never pulled here
  assert.match(message, /cortex\.yaml: API sentiment, pod\.containers api: image python:3\.11-slim is not among/);
  assert.match(message, /the local environment does not pull: build it \(\w+ build -t python:3\.11-slim <folder>[,)]/);
  assert.match(message, /Nothing was deployed\.$/);
});
