// Cortex 0.42 (the container format, 0.36-0.42): a project written for it, test/eras/v0_42, whose
// API is a plain Python HTTP server (server.py) under pod:. It loads unchanged, becomes the
// operator's objects (the proxy in front of the container, the HPA on in-flight requests), and
// the Deployment's own commands, run here as processes, serve it: the proxy admits
// max_concurrency, queues max_queue_length and refuses the rest, counting every request.
// The same project on the real control plane: test/operator/pod-api.cluster-test.ts.
// A 0.42 project deployed to the local environment for real (fixtures/v0_42/local): its image built
// with podman FROM the project's local node base image, its container run by buildah (podman's
// runtime cannot start containers here) behind cortex proxy, under the local supervisor.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { loadProject } from '../../cli/config/load.ts';
import { gpusPerReplica, isPodApi } from '../../operator/api/v1alpha1/index.ts';
import { selectPool } from '../../operator/node-pools.ts';
import { desiredDeployment } from '../../operator/reconcilers/deployment.ts';
import { desiredHpa } from '../../operator/reconcilers/hpa.ts';
import { desiredService } from '../../operator/reconcilers/service.ts';
import type { ApiInstance, ChildConfig } from '../../operator/reconcilers/types.ts';
import { startPodApi, type PodApiProcesses } from '../helpers/pod-api-process.ts';
import { waitFor } from '../helpers/wait.ts';
import { freePort, localEnv, portIsFree } from '../helpers/local.ts';
import { BASE_IMAGE, ensureBaseImage, podmanBuild } from '../images/build.ts';
import { imagesUnavailable } from '../images/containers.ts';
import { homePrefix } from '../../cli/local/pod-replicas.ts';
import { makeRunner } from '../../cli/local/runners/runner.ts';
import { fixture } from './era-project.ts';
import { readdirSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { cortexBin } from '../helpers/serve.ts';

const PROJECT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'v0_42');
const running: PodApiProcesses[] = [];
after(() => Promise.all(running.map((r) => r.stop())));

function objects(api: ApiInstance) {
  const choice = selectPool(
    { gpu: gpusPerReplica(api.spec), nodeGroups: api.spec.compute.nodeGroups },
    { pools: [{ name: 'cpu', nodeSelector: { pool: 'cpu' }, tolerations: [] }], source: 'test' },
  );
  assert.ok(choice.placement, choice.unavailable);
  const config: ChildConfig = {
    runtimeImage: 'cortex/runtime:test',
    hpaTolerance: true,
    clusterDomain: 'cluster.local',
    placement: choice.placement,
  };
  return {
    deployment: desiredDeployment(api, config),
    service: desiredService(api, config),
    hpa: desiredHpa(api, config),
  };
}

function loaded(): ApiInstance {
  const project = loadProject(PROJECT);
  assert.deepEqual(project.warnings, []);
  assert.equal(project.apis.length, 1);
  const [api] = project.apis;
  return { name: api.name, namespace: 'default', uid: 'u', generation: 1, spec: api.spec };
}

test('the 0.42 project loads unchanged into a pod API', () => {
  const { name, spec } = loaded();
  assert.equal(name, 'sentiment');
  assert.ok(isPodApi(spec));
  assert.deepEqual([spec.pod.port, spec.pod.maxConcurrency, spec.pod.maxQueueLength], [9000, 2, 3]);
  assert.deepEqual(spec.pod.containers[0].args, ['--port', '$(CORTEX_PORT)']);
  assert.equal(spec.autoscaling.targetReplicaConcurrency, 2, 'target_in_flight');
  assert.deepEqual(spec.compute.nodeGroups, ['cpu'], 'node_groups');
  assert.equal(spec.networking.endpoint, '/sentiment');
});

test("the operator's objects: the proxy before the container, the Service on the proxy, the HPA on in-flight", () => {
  const { deployment, service, hpa } = objects(loaded());
  const pod = deployment.spec!.template.spec!;
  assert.deepEqual(
    pod.containers.map((c) => [c.name, c.image]),
    [
      ['cortex-proxy', 'cortex/runtime:test'],
      ['api', 'python:3.11-slim'],
    ],
  );
  assert.deepEqual(pod.nodeSelector, { pool: 'cpu' });
  assert.equal(service.spec!.ports![0].targetPort, 8888);
  assert.equal(hpa.spec!.metrics![0].pods!.target.averageValue, '2');
  assert.deepEqual([hpa.spec!.minReplicas, hpa.spec!.maxReplicas], [1, 4]);
});

test("the Deployment's commands serve the API: max_concurrency in, max_queue_length queued, the rest 503", async () => {
  const api = loaded();
  assert.ok(isPodApi(api.spec));
  api.spec.pod.port = await freePort(); // 9000 may be taken on this machine; the pod's own network has it free
  const pod = objects(api).deployment.spec!.template.spec!;
  const replica = await startPodApi(pod, {
    workdir: PROJECT,
    host: '127.0.0.1',
    port: await freePort(),
    adminPort: await freePort(),
  });
  running.push(replica);
  const predict = (body: object) =>
    fetch(`${replica.url}/`, { method: 'POST', body: JSON.stringify(body) }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as Record<string, unknown>,
    }));
  const metric = async (series: string) => {
    const text = await (await fetch(`${replica.admin}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(series));
    return line === undefined ? undefined : Number(line.split(' ').pop());
  };

  assert.deepEqual(await predict({ text: 'a good film' }), {
    status: 200,
    body: { label: 'positive', text: 'a good film' },
  });

  const admitted = Array.from({ length: 5 }, (_, i) => predict({ text: `slow ${i}`, sleep: 1.5 }));
  await waitFor('5 requests in flight', async () => (await metric('cortex_in_flight_requests{')) === 5, 10_000);
  assert.equal(await metric('cortex_queue_length{'), 3);
  const refused = await Promise.all([predict({ text: 'x' }), predict({ text: 'y' })]);
  assert.deepEqual(
    refused.map((r) => r.status),
    [503, 503],
  );
  assert.match(String(refused[0].body.error), /pod.max_concurrency 2, pod.max_queue_length 3/);
  const answers = await Promise.all(admitted);
  assert.deepEqual(
    answers.map((a) => [a.status, a.body.text]),
    [0, 1, 2, 3, 4].map((i) => [200, `slow ${i}`]),
  );
  assert.equal(await metric('cortex_requests_total{api="sentiment",status_code="200"}'), 6);
  assert.equal(await metric('cortex_requests_total{api="sentiment",status_code="503"}'), 2);
  assert.equal(await metric('cortex_in_flight_requests{'), 0);
  await replica.stop();
});

const LOCAL_IMAGE = 'localhost/cortex-ts/era-v0-42:test';

/** Processes whose environment marks them as a container of this home (the buildah runner's mark). */
function containerProcesses(prefix: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/environ`, 'latin1').includes(`CORTEX_CONTAINER=${prefix}`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('deployed locally: buildah runs it behind cortex proxy; nothing left after crash, refresh, delete', async (t) => {
  const why = await imagesUnavailable();
  if (why) return t.skip(why);
  const project = fixture('v0_42', 'local');
  const built = Date.now();
  await ensureBaseImage();
  await podmanBuild(
    path.join(project, 'Containerfile'),
    LOCAL_IMAGE,
    project,
    ['--build-arg', `BASE=${BASE_IMAGE}`],
    () => {},
  );
  t.diagnostic(`image ${LOCAL_IMAGE} built in ${Date.now() - built} ms`);

  const local = await localEnv();
  const prefix = homePrefix(local.home);
  const buildah = makeRunner('buildah');
  const ours = () => buildah.list(prefix);
  t.after(async () => {
    await local.cleanup();
    await buildah.remove(await ours()); // whatever a failed test left
  });
  // podman where it can run containers, else buildah: both read the images podman built
  const env = { CORTEX_CONTAINER_RUNNER: 'podman,buildah' };
  const cortex = (args: string[]) => local.cortex(args, { env });
  const podPortFree = await portIsFree(9000);

  const deployed = await cortex(['deploy', project]);
  assert.equal(deployed.code, 0, deployed.stderr);
  assert.match(deployed.stdout, /echo is live at/);
  const predict = (body: object) =>
    fetch(local.url('/echo'), { method: 'POST', body: JSON.stringify(body) }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as Record<string, unknown>,
    }));
  const first = await predict({ text: 'a good film' });
  assert.deepEqual([first.status, first.body.label, first.body.text], [200, 'positive', 'a good film']);
  // CORTEX_PORT, and $(CORTEX_PORT) in args: pod.port itself when it was free
  if (podPortFree) assert.equal(first.body.port, '9000');

  // max_concurrency 2 in the container, max_queue_length 1 queued, the rest 503
  const logs = async () => (await cortex(['logs', 'echo'])).stdout;
  const admin = Number(/admin on port (\d+)/.exec(await logs())?.[1]);
  const inFlight = async () => {
    const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    return Number(
      text
        .split('\n')
        .find((l) => l.startsWith('cortex_in_flight_requests{'))
        ?.split(' ')
        .pop(),
    );
  };
  const slow = [0, 1, 2].map((i) => predict({ text: `slow ${i}`, sleep: 1.5 }));
  await waitFor('3 requests in the proxy', async () => (await inFlight()) === 3, 10_000);
  const refused = await predict({ text: 'one too many' });
  assert.equal(refused.status, 503);
  assert.match(String(refused.body.error), /pod.max_concurrency 2, pod.max_queue_length 1/);
  assert.deepEqual(
    (await Promise.all(slow)).map((a) => a.status),
    [200, 200, 200],
  );

  const got = await cortex(['get', 'echo']);
  assert.match(got.stdout, /status:\s+live/);
  assert.match(got.stdout, /replicas:\s+1\/1 ready/);
  const log = await logs();
  assert.match(log, /running echo's containers with (podman|buildah)/);
  assert.match(log, /\[api\] listening on port \d+/, "the container's own output");
  assert.match(log, /\[api\] predicting "slow 2"/);
  assert.match(log, /serving echo on http:\/\/127\.0\.0\.1:\d+ \(cortex proxy in front of/, "the proxy's");
  assert.equal((await ours()).length, 1);

  // a crash: the replica is started again, with new containers; the old ones are gone
  const status = JSON.parse((await cortex(['get', 'echo', '-o', 'json'])).stdout) as { replicas: { pid: number }[] };
  process.kill(-status.replicas[0].pid, 'SIGKILL');
  await waitFor(
    'the replica to be restarted',
    async () =>
      /restarts?:?\s*1|1 restart/.test((await cortex(['get', 'echo'])).stdout) && (await predict({})).status === 200,
    30_000,
  );
  assert.equal((await ours()).length, 1, "one working container: the crashed replica's was removed");

  // a refresh: a new replica (on another port, as the old one still holds its own), the old one drained and removed
  const refreshed = await cortex(['refresh', 'echo']);
  assert.equal(refreshed.code, 0, refreshed.stderr);
  const after = await predict({ text: 'after the refresh' });
  assert.equal(after.status, 200);
  if (podPortFree) assert.notEqual(after.body.port, '9000');
  await waitFor('the old replica to be drained', async () => (await ours()).length === 1, 20_000);

  const deleted = await cortex(['delete', 'echo']);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.deepEqual(await ours(), [], 'no container is left');
  assert.deepEqual(containerProcesses(prefix), [], 'no process of a container is left');
});

test('cortex serve of the pod API by hand: SIGTERM runs pre_stop, stops the container and removes it', async (t) => {
  const why = await imagesUnavailable();
  if (why) return t.skip(why);
  const project = fixture('v0_42', 'local');
  await ensureBaseImage();
  await podmanBuild(
    path.join(project, 'Containerfile'),
    LOCAL_IMAGE,
    project,
    ['--build-arg', `BASE=${BASE_IMAGE}`],
    () => {},
  );
  const prefix = `cortex-era-042-${process.pid}-`;
  const buildah = makeRunner('buildah');
  t.after(async () => buildah.remove(await buildah.list(prefix)));
  const upstream = await freePort();
  const child = spawn(
    process.execPath,
    [
      cortexBin,
      'serve',
      project,
      '--port',
      '0',
      '--admin-port',
      '0',
      '--upstream-port',
      String(upstream),
      '--host',
      '127.0.0.1',
    ],
    {
      env: { ...process.env, CORTEX_CONTAINER_RUNNER: 'podman,buildah', CORTEX_CONTAINER_PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = once(child, 'exit');
  const port = await waitFor(
    'the replica to serve',
    async () => /serving echo on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1],
    30_000,
  );
  const answer = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: '{"text":"good"}' });
  assert.deepEqual(await answer.json(), { label: 'positive', text: 'good', port: String(upstream) });
  assert.deepEqual(await buildah.list(prefix), [`${prefix}api`]);
  child.kill('SIGTERM');
  assert.deepEqual(await exited, [0, null], out);
  // the container's pre_stop (http_get /prestop) before its SIGTERM, both in its output
  assert.match(out, /\[api\] pre_stop called\n(.*\n)*\[api\] SIGTERM: stopping/);
  assert.deepEqual(await buildah.list(prefix), [], 'the container is removed');
  assert.deepEqual(containerProcesses(prefix), []);
});
