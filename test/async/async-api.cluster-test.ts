// AsyncAPIs on the real test control plane (docs/async.md, "In a cluster"): the operator, run with
// --queue-url pointing at a real redis-server, makes an AsyncAPI's Deployment with the queue's URL;
// its pods' own command and env run here as local processes (kwok runs no pods; pod-process.ts),
// bound to their loopback pod IPs. A POST to a replica is queued, worked and its GET completed;
// the metrics API serves the queue depth through the APIService, and the real HPA controller scales
// the API up on it. Not part of `npm test`: `npm run test:cluster`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpMethod, KubeConfig } from '@kubernetes/client-node';
import { LOOPBACK_POD_CIDR, OPERATOR_NAMESPACE, startCluster, type Cluster } from '../cluster/cluster.ts';
import { freePort } from '../cluster/ports.ts';
import { waitFor } from '../helpers/wait.ts';
import { loopbackScalingArgs, startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { KubeClient } from '../../operator/kube/client.ts';
import { metricsApiObjects } from '../../operator/metrics-adapter/manifests.ts';
import { RUNTIME_PORT } from '../../operator/reconcilers/deployment.ts';
import { QUEUE_DEPTH_METRIC } from '../../operator/reconcilers/hpa.ts';
import { parseQuantity } from '../../operator/api/v1alpha1/quantity.ts';
import { PodRuntimes, loopbackOnly, viaActivator } from '../autoscaling/runtimes.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const NS = 'async';
const API = 'words';
const LAZY = 'lazy'; // minReplicas 0

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from the API server
type Obj = any;

describe('an AsyncAPI in a cluster', { concurrency: false, skip: redisMissing }, () => {
  let dir: string;
  let cluster: Cluster;
  let client: KubeClient;
  let redis: RedisServer;
  let operator: OperatorProcess | undefined;
  let runtimes: PodRuntimes | undefined;
  let lazyRuntimes: PodRuntimes | undefined;
  let activatorPort: number;

  const k = (args: string[], input?: string) => cluster.kubectl(args, { input });
  const get = (p: string): Promise<Obj> => client.request(HttpMethod.GET, p);
  /** An AsyncAPI running test/async/fixtures/words (handler.py), its project standing in for the image. */
  const applyAsyncApi = (name: string, settings: object, autoscaling: object) =>
    k(
      ['apply', '--server-side', '--field-manager=test', '-f', '-'],
      JSON.stringify({
        apiVersion: 'cortex.dev/v1alpha1',
        kind: 'RealtimeAPI',
        metadata: { name, namespace: NS },
        spec: {
          predictor: { type: 'python', path: 'handler.py', image: 'fake.invalid/words:1' },
          compute: { cpu: '100m' },
          async: settings,
          autoscaling,
        },
      }),
    );
  const hpa = () => get(`/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/${API}`);

  before(
    async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'cortex-async-cluster-'));
      const poolsFile = path.join(dir, 'node-pools.yaml');
      redis = await startRedis();
      cluster = await startCluster({
        stateDir: path.join(dir, 'state'),
        nodePoolsFile: poolsFile,
        podCidr: LOOPBACK_POD_CIDR,
        extraArgs: { 'kube-controller-manager': ['--horizontal-pod-autoscaler-sync-period=5s'] },
      });
      await k(['create', 'namespace', NS]);
      const adapterPort = await freePort();
      activatorPort = await freePort();
      operator = await startOperator(cluster, dir, {
        nodePoolsFile: poolsFile,
        extraArgs: [...(await loopbackScalingArgs(activatorPort, '60s', adapterPort)), '--queue-url', redis.url],
      });
      const objects = metricsApiObjects({
        namespace: OPERATOR_NAMESPACE,
        externalName: 'localhost',
        targetPort: adapterPort,
      });
      await k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
      await k(['wait', '--for=condition=Available', '--timeout=90s', 'apiservice/v1beta2.custom.metrics.k8s.io']);
      const kc = new KubeConfig();
      kc.loadFromFile(cluster.kubeconfig);
      client = new KubeClient(kc);
      runtimes = new PodRuntimes({
        client,
        namespace: NS,
        api: API,
        project: path.join(here, 'fixtures', 'words'),
        tmpDir: dir,
        fromPod: true,
      });
      await runtimes.start();
      lazyRuntimes = new PodRuntimes({
        client,
        namespace: NS,
        api: LAZY,
        project: path.join(here, 'fixtures', 'words'),
        tmpDir: dir,
        fromPod: true,
      });
      await lazyRuntimes.start();
    },
    { timeout: 60 * 60_000 },
  );

  after(async () => {
    await runtimes?.stop();
    await lazyRuntimes?.stop();
    await operator?.stop();
    if (process.exitCode || process.env.CORTEX_TEST_OPERATOR_LOG) {
      process.stderr.write(`--- operator log (last 60 lines) ---\n${operator?.logs.slice(-60).join('\n')}\n`);
      process.stderr.write(`--- runtimes log (last 40 lines) ---\n${runtimes?.log.slice(-40).join('\n')}\n`);
    }
    await cluster?.stop();
    await redis?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test(
    'a POST to a replica is queued, worked and completed; the HPA scales on the queue depth',
    { timeout: 5 * 60_000 },
    async () => {
      await applyAsyncApi(
        API,
        { resultTtl: '10m' },
        {
          minReplicas: 1,
          maxReplicas: 3,
          targetReplicaConcurrency: 2,
          upscaleStabilizationPeriod: '0s',
          maxUpscaleFactor: 4,
        },
      );
      const d: Obj = await waitFor(
        'the Deployment',
        () => get(`/apis/apps/v1/namespaces/${NS}/deployments/${API}`).catch(() => undefined),
        60_000,
      );
      const env = d.spec.template.spec.containers[0].env as { name: string; value: string }[];
      assert.equal(env.find((e) => e.name === 'CORTEX_QUEUE_URL')?.value, redis.url);
      assert.equal(env.find((e) => e.name === 'CORTEX_QUEUE_SCOPE')?.value, NS);

      const rt = runtimes!;
      await waitFor('a ready replica', async () => rt.readyIps().length >= 1, 4 * 60_000);
      const base = `http://${loopbackOnly(rt.readyIps()[0])}:${RUNTIME_PORT}`;
      const post = async (payload: object): Promise<string> => {
        const res = await fetch(`${base}/`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(payload),
        });
        assert.equal(res.status, 200);
        return ((await res.json()) as { id: string }).id;
      };
      const id = await post({ text: 'queued in a cluster' });
      const done = await waitFor(
        'the request to complete',
        async () => {
          const r = (await (await fetch(`${base}/${id}`)).json()) as Obj;
          return r.status === 'completed' && r;
        },
        60_000,
      );
      assert.deepEqual(done.result, { words: 4 });

      // the metric through the API server's aggregation, as the HPA controller reads it
      const metricsBase = `/apis/custom.metrics.k8s.io/v1beta2/namespaces/${NS}/realtimeapis.cortex.dev`;
      const path = `${metricsBase}/${API}/${QUEUE_DEPTH_METRIC}`;
      const idle = JSON.parse(await k(['get', '--raw', path]));
      assert.equal(parseQuantity(idle.items[0].value), 0);

      // 8 slow requests on one replica working one at a time: depth 8 / target 2 → the HPA wants 3 (max)
      for (let i = 0; i < 8; i++) await post({ text: 'slow one', sleep: 30 });
      const busy = await waitFor(
        'the HPA to scale up on the queue depth',
        async () => {
          const h = await hpa();
          return (h.status?.desiredReplicas ?? 0) >= 3 && h;
        },
        120_000,
      );
      const current = busy.status.currentMetrics.find((m: Obj) => m.type === 'Object');
      assert.equal(current.object.metric.name, QUEUE_DEPTH_METRIC);
      assert.ok(parseQuantity(current.object.current.averageValue) >= 2, JSON.stringify(current));
    },
  );

  test(
    'at zero, a POST through the activator is queued and answered at once; the API wakes, completes it, ' +
      'and goes back to zero when its queue is empty and idle',
    { timeout: 5 * 60_000 },
    async () => {
      await applyAsyncApi(LAZY, {}, { minReplicas: 0, maxReplicas: 1, scaleToZeroAfter: '10s' });
      const replicas = async () =>
        (await get(`/apis/apps/v1/namespaces/${NS}/deployments/${LAZY}`).catch(() => undefined))?.spec?.replicas;
      await waitFor('the Deployment at 0 replicas', async () => (await replicas()) === 0, 60_000);
      // the Service's endpoints are the activator's now; it answers the front itself
      const queued = await waitFor(
        'the activator to queue a POST',
        async () => {
          const a = await viaActivator(activatorPort, `${LAZY}.${NS}.svc`, { text: 'while at zero' });
          return a.status === 200 && a;
        },
        60_000,
      );
      assert.ok(queued.ms < 5000, `answered in ${queued.ms} ms, without waiting for a replica`);
      const { id } = JSON.parse(queued.body) as { id: string };
      await waitFor('the API to wake', async () => (await replicas()) === 1, 30_000);
      const rt = lazyRuntimes!;
      await waitFor('a ready replica', async () => rt.readyIps().length >= 1, 4 * 60_000);
      const base = `http://${loopbackOnly(rt.readyIps()[0])}:${RUNTIME_PORT}`;
      const done = await waitFor(
        'the request queued at zero to complete',
        async () => {
          const r = (await (await fetch(`${base}/${id}`)).json()) as Obj;
          return r.status === 'completed' && r;
        },
        60_000,
      );
      assert.deepEqual(done.result, { words: 3 });
      await waitFor('the API back at zero, its queue empty', async () => (await replicas()) === 0, 90_000);
    },
  );
});
