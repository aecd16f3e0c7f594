// Cortex 0.42 (the container format, 0.36-0.42): a project written for it, test/eras/v0_42, whose
// API is a plain Python HTTP server (server.py) under pod:. It loads unchanged, becomes the
// operator's objects (the proxy in front of the container, the HPA on in-flight requests), and
// the Deployment's own commands, run here as processes, serve it: the proxy admits
// max_concurrency, queues max_queue_length and refuses the rest, counting every request.
// The same project on the real control plane: test/operator/pod-api.cluster-test.ts.
import assert from 'node:assert/strict';
import net from 'node:net';
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

const PROJECT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'v0_42');
const running: PodApiProcesses[] = [];
after(() => Promise.all(running.map((r) => r.stop())));

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

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
