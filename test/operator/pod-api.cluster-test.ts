// A pod API (spec.pod, Cortex 0.36-0.42's containers) on the real control plane: the CRD's CEL
// rules refuse malformed ones with their message; test/eras/v0_42's project, refused by the
// local environment and deployed by `cortex deploy -e <cluster env>`, becomes a Deployment
// running the user's container behind cortex proxy; the pod the API server has is then run here
// as processes (no kubelet: kwok's nodes) bound to its loopback IP and serves through the proxy;
// containers' GPUs place the replica, and a request no node can hold is said in the status. The
// operator runs as a local process impersonating its ServiceAccount.
// Not part of `npm test`: `npm run test:cluster`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOOPBACK_POD_CIDR, type Cluster } from '../cluster/cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import { startTestCluster } from '../helpers/test-cluster.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { loopbackOnly } from '../autoscaling/runtimes.ts';
import { startPodApi, type PodApiProcesses } from '../helpers/pod-api-process.ts';
import { clusterEnv, copyProject, type LocalEnv } from '../helpers/local.ts';
import { PROXY_PROBE_HEADER } from '../../operator/api/v1alpha1/index.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const PROJECT = path.join(here, '..', 'eras', 'v0_42');
const BUILD_TIMEOUT_MS = 60 * 60_000;
const NS = 'pods';
/** pod.port for the test: the pods' loopback IPs are theirs, but 127.0.0.1:9000 is this machine's. */
const POD_PORT = 39_471;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from kubectl, read field by field
type Obj = any;

const podApi = (name: string, pod: Obj, extra: Obj = {}) =>
  JSON.stringify({
    apiVersion: 'cortex.dev/v1alpha1',
    kind: 'RealtimeAPI',
    metadata: { name, namespace: NS },
    spec: { pod, ...extra },
  });

describe('pod APIs on the control plane', { concurrency: false }, () => {
  let dir: string;
  let cluster: Cluster;
  let operator: OperatorProcess | undefined;
  let replica: PodApiProcesses | undefined;
  let cli: LocalEnv | undefined;
  let project: string | undefined;
  const k = (args: string[], input?: string) => cluster.kubectl(args, { input });
  const json = (args: string[]): Promise<Obj> => cluster.kubectl.json<Obj>(args);
  const apply = (manifest: string, ...flags: string[]) =>
    k(['apply', '--server-side', '--field-manager=test', ...flags, '-f', '-'], manifest);

  before(
    async () => {
      let poolsFile: string;
      ({ dir, poolsFile, cluster } = await startTestCluster('cortex-pod-api-test', NS, { podCidr: LOOPBACK_POD_CIDR }));
      operator = await startOperator(cluster, dir, { nodePoolsFile: poolsFile });
      cli = await clusterEnv(cluster.kubeconfig, NS);
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    await replica?.stop();
    await operator?.stop();
    await cli?.cleanup();
    if (project) rmSync(project, { recursive: true, force: true });
    if (process.exitCode || process.env.CORTEX_TEST_OPERATOR_LOG) {
      process.stderr.write(`--- operator log (last 60 lines) ---\n${operator?.logs.slice(-60).join('\n')}\n`);
      process.stderr.write(`--- replica log (last 40 lines) ---\n${replica?.logs.slice(-40).join('\n')}\n`);
    }
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the CRD refuses malformed pod APIs, each with its rule', async () => {
    const container = { name: 'api', image: 'example.com/api:1' };
    const refused: [string, string, RegExp][] = [
      [
        'both',
        podApi('both', { containers: [container] }, { predictor: { type: 'python', path: 'p.py', image: 'x' } }),
        /exactly one of predictor \(a predictor class\) and pod \(your own containers\) must be set/,
      ],
      ['port', podApi('port', { port: 8888, containers: [container] }), /port must not be 8888 or 15000/],
      [
        'dupe',
        podApi('dupe', { containers: [container, { ...container, image: 'example.com/other:1' }] }),
        /\.spec\.pod\.containers: duplicate entries for key \[name="api"\]/,
      ],
      [
        'proxy-name',
        podApi('proxy-name', { containers: [{ ...container, name: 'cortex-proxy' }] }),
        /the container name cortex-proxy is taken by Cortex's proxy/,
      ],
      [
        'two-handlers',
        podApi('two-handlers', {
          containers: [{ ...container, readinessProbe: { httpGet: { port: 1 }, exec: { command: ['true'] } } }],
        }),
        /exactly one of httpGet, tcpSocket, exec must be set/,
      ],
      [
        'liveness',
        podApi('liveness', {
          containers: [{ ...container, livenessProbe: { tcpSocket: { port: 1 }, successThreshold: 2 } }],
        }),
        /successThreshold must be 1 for a liveness probe/,
      ],
      ['gpu', podApi('gpu', { containers: [container] }, { compute: { gpu: 1 } }), /compute.gpu must be 0 with pod/],
      ['empty', podApi('empty', { containers: [] }), /should have at least 1 items|must have at least 1 items/],
    ];
    for (const [what, manifest, message] of refused) {
      const error = await apply(manifest, '--dry-run=server').then(
        () => undefined,
        (e: Error) => e.message,
      );
      assert.ok(error !== undefined, `${what}: accepted`);
      assert.match(error, message, what);
    }
  });

  test(
    "a 0.42 project's pod API: the proxy and the container in one pod, serving through the proxy",
    { timeout: 180_000 },
    async () => {
      project = copyProject(PROJECT);
      const config = path.join(project, 'cortex.yaml');
      writeFileSync(config, readFileSync(config, 'utf8').replace(/\b9000\b/g, String(POD_PORT)));

      const local = await cli!.cortex(['deploy', project]);
      assert.equal(local.code, 2, local.stderr);
      // Locally the image is not there (the local environment never pulls), or no container runner
      // works on the machine: either way a clear refusal, before anything is deployed.
      assert.match(
        local.stderr,
        /API sentiment, pod\.containers api: image python:3\.11-slim is not among the local images|sentiment runs its own containers \(pod:\)/,
      );
      assert.match(local.stderr, /Nothing was deployed\./);

      const deployed = await cli!.cortex(['deploy', project, '-e', 'test', '--wait', '--timeout', '2m']);
      assert.equal(deployed.code, 0, `${deployed.stdout}\n${deployed.stderr}`);
      assert.doesNotMatch(deployed.stderr, /uploading the bundle/, 'a pod API has no code to upload');
      assert.match(deployed.stdout + deployed.stderr, /sentiment created and live in test/);

      const deployment = await waitFor(
        'the Deployment',
        () => json(['get', 'deployment', 'sentiment', '-n', NS, '-o', 'json']),
        30_000,
      );
      const containers = deployment.spec.template.spec.containers;
      assert.deepEqual(
        containers.map((c: Obj) => c.name),
        ['cortex-proxy', 'api'],
      );
      assert.ok(containers[0].command.includes('--upstream-port'));
      assert.deepEqual(containers[1].env, [
        { name: 'LABELS', value: 'negative,positive' },
        { name: 'CORTEX_PORT', value: String(POD_PORT) },
      ]);
      assert.deepEqual(containers[1].lifecycle, { preStop: { exec: { command: ['sleep', '1'] } } });
      assert.equal(deployment.spec.template.metadata.annotations['prometheus.io/port'], '15000');
      const service = await json(['get', 'service', 'sentiment', '-n', NS, '-o', 'json']);
      assert.equal(service.spec.ports[0].targetPort, 8888);
      const hpa = await waitFor('the HPA', () => json(['get', 'hpa', 'sentiment', '-n', NS, '-o', 'json']), 30_000);
      assert.equal(hpa.spec.metrics[0].pods.target.averageValue, '2', 'target_in_flight');

      const pod = await waitFor(
        'a Running pod of the API',
        async () => {
          const pods = await json(['get', 'pods', '-n', NS, '-l', 'cortex.dev/api=sentiment', '-o', 'json']);
          return pods.items.find((p: Obj) => p.status?.phase === 'Running' && p.status.podIP);
        },
        60_000,
      );
      assert.equal(pod.spec.nodeSelector['cortex.dev/node-pool'], 'cpu', 'node_groups: [cpu]');
      const ip = loopbackOnly(pod.status.podIP);
      replica = await startPodApi(pod.spec, { workdir: PROJECT, host: ip, port: 8888, adminPort: 15000 });
      const res = await fetch(`http://${ip}:8888/`, { method: 'POST', body: JSON.stringify({ text: 'good' }) });
      assert.deepEqual(await res.json(), { label: 'positive', text: 'good' });
      // the activator's confirmation of a waking replica reaches the proxy, not the container
      const probe = await fetch(`http://${ip}:8888/readyz`, { headers: { [PROXY_PROBE_HEADER]: 'readiness' } });
      assert.deepEqual([probe.status, await probe.json()], [200, { status: 'ready' }]);
      const unmarked = await fetch(`http://${ip}:8888/readyz`);
      assert.equal(unmarked.status, 404, "any other /readyz is the container's (it has none)");
      const metrics = await (await fetch(`http://${ip}:15000/metrics`)).text();
      assert.match(metrics, /cortex_requests_total\{api="sentiment",status_code="200"\} 1\n/);

      const live = await waitFor(
        'the API to be live',
        async () => {
          const a = await json(['get', 'realtimeapi', 'sentiment', '-n', NS, '-o', 'json']);
          return a.status?.status === 'live' && a;
        },
        60_000,
      );
      assert.equal(live.status.endpoint, `http://sentiment.${NS}.svc.cluster.local/`);
      await replica.stop();
      replica = undefined;
    },
  );

  test("containers' GPUs place the replica on the GPU pool; more than a node has is said in the status", async () => {
    const gpuContainer = (gpu: number) => ({ name: 'model', image: 'example.com/model:1', compute: { gpu } });
    await apply(podApi('gpu-pod', { containers: [gpuContainer(1)] }));
    const deployment = await waitFor(
      'the GPU Deployment',
      () => json(['get', 'deployment', 'gpu-pod', '-n', NS, '-o', 'json']),
      30_000,
    );
    const spec = deployment.spec.template.spec;
    assert.equal(spec.nodeSelector['cortex.dev/node-pool'], 'gpu');
    assert.deepEqual(spec.containers[1].resources.limits, { 'nvidia.com/gpu': '1' });
    assert.equal(spec.containers[0].resources.limits, undefined, 'the proxy gets no GPU');

    await apply(podApi('huge-pod', { containers: [gpuContainer(9)] }));
    const huge = await waitFor(
      'huge-pod to be compute unavailable',
      async () => {
        const a = await json(['get', 'realtimeapi', 'huge-pod', '-n', NS, '-o', 'json']);
        return a.status?.status === 'compute unavailable' && a;
      },
      90_000,
    );
    assert.match(huge.status.message, /Insufficient nvidia\.com\/gpu/);
  });
});
