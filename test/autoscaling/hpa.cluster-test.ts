// Request-based autoscaling end to end on the real control plane: the real HPA controller
// (kube-controller-manager, syncing every 5 s) reads cortex_in_flight_requests through the
// APIService that registers the operator's metrics API (custom.metrics.k8s.io, served by the
// operator process on 127.0.0.1, reached through an ExternalName Service), and scales the
// RealtimeAPI's Deployment up under load and back down after the stabilisation window.
//
// kwok's pods run nothing, so the cluster gives them loopback IPs (LOOPBACK_POD_CIDR) and the
// test runs a real `cortex serve` on each Running pod's IP (runtimes.ts): the operator scrapes
// real runtimes, the load is real requests held in flight by a predictor that sleeps.
// The operator runs as a local process impersonating its ServiceAccount bound to exactly its
// declared RBAC. Not part of `npm test`: `npm run test:cluster`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpMethod } from '@kubernetes/client-node';
import { LOOPBACK_POD_CIDR, startCluster, type Cluster } from '../cluster/cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import type { OperatorProcess } from '../helpers/operator.ts';
import { KubeClient } from '../../operator/kube/client.ts';
import { REQUEST_METRICS } from '../../operator/metrics-adapter/request-metrics.ts';
import { parseQuantity as parseMetricQuantity } from '../../operator/api/v1alpha1/quantity.ts';
import { operatorWithMetricsApi } from './metrics-api.ts';
import { type PodRuntimes, startLoad } from './runtimes.ts';
import { slowApi, slowRuntimes } from './slow-api.ts';

const BUILD_TIMEOUT_MS = 60 * 60_000;
const NS = 'autoscaling';
const API = 'slow';
const TARGET = 2; // targetReplicaConcurrency
const MAX = 4;
const LOAD = 8; // requests kept in flight: 8 / 2 per replica → 4 replicas
const DOWNSCALE_STABILIZATION_S = 20;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from kubectl, read field by field
type Obj = any;

interface Point {
  s: number;
  replicas: number;
  desired?: number;
  average?: string;
  runtimes: number;
}

describe('the HPA scales a RealtimeAPI on in-flight requests served by the operator', { concurrency: false }, () => {
  let dir: string;
  let cluster: Cluster;
  let client: KubeClient;
  let operator: OperatorProcess | undefined;
  let runtimes: PodRuntimes | undefined;

  const k = (args: string[], input?: string) => cluster.kubectl(args, { input });
  const get = (p: string): Promise<Obj> => client.request(HttpMethod.GET, p);
  const deployment = () => get(`/apis/apps/v1/namespaces/${NS}/deployments/${API}`);
  const hpa = () => get(`/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/${API}`);
  const podMetric = (h: Obj): string | undefined =>
    h.status?.currentMetrics?.find((m: Obj) => m.type === 'Pods')?.pods?.current?.averageValue;

  before(
    async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'cortex-hpa-test-'));
      const poolsFile = path.join(dir, 'node-pools.yaml');
      cluster = await startCluster({
        stateDir: path.join(dir, 'state'),
        nodePoolsFile: poolsFile,
        podCidr: LOOPBACK_POD_CIDR,
        extraArgs: { 'kube-controller-manager': ['--horizontal-pod-autoscaler-sync-period=5s'] },
      });
      await k(['create', 'namespace', NS]);
      operator = await operatorWithMetricsApi(cluster, dir, poolsFile, ['--log-level', 'debug']);

      ({ client, runtimes } = await slowRuntimes(cluster, NS, API, dir));
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    await runtimes?.stop();
    await operator?.stop();
    if (process.exitCode || process.env.CORTEX_TEST_OPERATOR_LOG) {
      process.stderr.write(`--- operator log (last 80 lines) ---\n${operator?.logs.slice(-80).join('\n')}\n`);
      process.stderr.write(`--- runtimes log (last 40 lines) ---\n${runtimes?.log.slice(-40).join('\n')}\n`);
      const kcm = path.join(cluster.stateDir, 'logs', 'kube-controller-manager.log');
      const hpaLines = (() => {
        try {
          return readFileSync(kcm, 'utf8')
            .split('\n')
            .filter((l) => /horizontal|custom.metrics|podautoscaler/i.test(l));
        } catch {
          return [];
        }
      })();
      process.stderr.write(`--- kube-controller-manager, HPA lines (last 30) ---\n${hpaLines.slice(-30).join('\n')}\n`);
    }
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test(
    'the API server serves discovery of custom.metrics.k8s.io from the operator (both versions): ' +
      'the pods metric and the RealtimeAPI ones',
    async () => {
      for (const v of ['v1beta2', 'v1beta1']) {
        const list = JSON.parse(await k(['get', '--raw', `/apis/custom.metrics.k8s.io/${v}`]));
        assert.deepEqual(
          list.resources.map((r: Obj) => r.name),
          [
            'pods/cortex_in_flight_requests',
            ...Object.keys(REQUEST_METRICS).map((m) => `realtimeapis.cortex.dev/${m}`),
          ],
          v,
        );
      }
    },
  );

  test(
    'under load the HPA scales the API up on the metric it reads through the APIService, ' +
      'and back to minReplicas after the downscale stabilisation window',
    { timeout: 10 * 60_000 },
    async (t) => {
      await k(
        ['apply', '--server-side', '--field-manager=test', '-f', '-'],
        slowApi(NS, API, {
          autoscaling: {
            minReplicas: 1,
            maxReplicas: MAX,
            targetReplicaConcurrency: TARGET,
            window: '10s',
            upscaleStabilizationPeriod: '0s',
            downscaleStabilizationPeriod: `${DOWNSCALE_STABILIZATION_S}s`,
            maxUpscaleFactor: 4,
            maxDownscaleFactor: 0.25,
          },
        }),
      );
      const rt = runtimes!;
      await waitFor("the first replica's runtime to be ready", async () => rt.readyIps().length === 1, 120_000);

      // idle: the controller reads 0 and keeps minReplicas
      const idle = await waitFor(
        'the HPA to read the metric of the idle API',
        async () => {
          const h = await hpa();
          return podMetric(h) !== undefined && h;
        },
        120_000,
      );
      assert.equal(parseMetricQuantity(podMetric(idle)!), 0);
      assert.equal(idle.status.desiredReplicas, 1);
      assert.ok(
        idle.status.conditions.some(
          (c: Obj) => c.type === 'ScalingActive' && c.status === 'True' && c.reason === 'ValidMetricFound',
        ),
        JSON.stringify(idle.status.conditions),
      );

      const start = Date.now();
      const timeline: Point[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const [d, h] = await Promise.all([deployment(), hpa()]).catch(() => [undefined, undefined]);
          if (d)
            timeline.push({
              s: Math.round((Date.now() - start) / 1000),
              replicas: d.spec.replicas,
              desired: h?.status?.desiredReplicas,
              average: podMetric(h),
              runtimes: rt.readyIps().length,
            });
          await sleep(1000);
        }
      })();
      t.after(async () => {
        sampling = false;
        await sampler;
        t.diagnostic(
          'timeline (s, replicas, HPA desired, HPA average in-flight, ready runtimes): ' +
            timeline.map((p) => `${p.s}:${p.replicas}/${p.desired}/${p.average}/${p.runtimes}`).join(' '),
        );
      });

      const load = startLoad(() => rt.readyIps(), { concurrency: LOAD, sleepMs: 1000 });
      let loadStopped = false;
      t.after(() => (loadStopped ? undefined : load.stop()));

      // the metric through the API server, as the HPA controller asks for it
      const raw = await waitFor(
        'a loaded pod in the custom metrics API',
        async () => {
          const list = JSON.parse(
            await k([
              'get',
              '--raw',
              `/apis/custom.metrics.k8s.io/v1beta2/namespaces/${NS}/pods/*/cortex_in_flight_requests` +
                `?labelSelector=${encodeURIComponent(`cortex.dev/api=${API}`)}`,
            ]),
          );
          return list.items.some((i: Obj) => parseMetricQuantity(i.value) >= TARGET) && list;
        },
        60_000,
      );
      assert.equal(raw.kind, 'MetricValueList');
      for (const i of raw.items)
        assert.ok(rt.pods().includes(i.describedObject.name), `${i.describedObject.name} is a pod with a runtime`);

      const up = await waitFor(
        `the Deployment to be scaled to ${MAX}`,
        async () => {
          const d = await deployment();
          return d.spec.replicas === MAX && d;
        },
        180_000,
      );
      assert.equal(up.spec.replicas, MAX);
      const loaded = timeline.find((p) => p.desired !== undefined && p.desired > 1);
      assert.ok(
        loaded?.average !== undefined && parseMetricQuantity(loaded.average) > TARGET,
        `the HPA saw more than ${TARGET} in flight per replica when it scaled up: ${JSON.stringify(loaded)}`,
      );

      // every replica gets its runtime and its share of the load; the HPA settles at MAX
      await waitFor(`${MAX} runtimes ready`, async () => rt.readyIps().length === MAX, 120_000);
      const settled = await waitFor(
        'the HPA to read the load spread over every replica',
        async () => {
          const h = await hpa();
          const avg = podMetric(h);
          return avg !== undefined && Math.abs(parseMetricQuantity(avg) - LOAD / MAX) <= 0.5 && h;
        },
        120_000,
      );
      assert.equal(settled.status.desiredReplicas, MAX, `${LOAD} in flight at ${TARGET} per replica`);
      assert.ok(load.ok() > 0, 'requests were answered');

      await load.stop();
      loadStopped = true;
      const stoppedAt = Date.now();
      const down = await waitFor(
        'the Deployment to be scaled back to 1',
        async () => {
          const d = await deployment();
          return d.spec.replicas === 1 && d;
        },
        180_000,
      );
      const seconds = (Date.now() - stoppedAt) / 1000;
      assert.equal(down.spec.replicas, 1);
      assert.ok(
        seconds >= DOWNSCALE_STABILIZATION_S,
        `scaled down ${seconds.toFixed(1)} s after the load stopped: ` +
          `not before the ${DOWNSCALE_STABILIZATION_S} s stabilisation window`,
      );
      const quiet = await hpa();
      assert.equal(quiet.status.desiredReplicas, 1);
      assert.equal(parseMetricQuantity(podMetric(quiet) ?? 'NaN'), 0, 'nothing in flight');
      // the pods the HPA removed lost their runtimes with them
      await waitFor('one runtime left', async () => rt.pods().length === 1, 60_000);
      t.diagnostic(
        `scale-up to ${MAX} after ${timeline.find((p) => p.replicas === MAX)?.s ?? NaN} s of load; ` +
          `back to 1 replica ${seconds.toFixed(1)} s after it stopped; ` +
          `${load.ok()} requests answered, ${load.failed()} failed; runtimes started for ${rt.started.length} pods`,
      );
    },
  );
});
