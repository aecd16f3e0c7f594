// Scale to zero on the test control plane: the operator runs as a local process under its
// declared RBAC (its metrics API scraping the replicas, its activator on 127.0.0.1), kwok gives
// pods loopback IPs and test/autoscaling/runtimes.ts starts a real `cortex serve` on each
// Running pod's IP. An idle API with minReplicas 0 goes to zero and its Service gets the
// activator's EndpointSlice; a request to the activator (as the Service would send it: Host
// <api>.<namespace>.svc.cluster.local) is held, wakes the API, and gets the predictor's answer
// once the new replica's runtime is ready. An API that cannot start gets 503 with the reason.
//
// The EndpointSlice carries a documentation address (192.0.2.0/24): EndpointSlices refuse
// loopback ones, and nothing here connects through Services anyway (no kube-proxy); the test
// sends requests to the activator itself, as kube-proxy would.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpMethod } from '@kubernetes/client-node';
import { LOOPBACK_POD_CIDR, startCluster, type Cluster } from '../cluster/cluster.ts';
import { freePort } from '../cluster/ports.ts';
import { ACTIVATOR_ADDRESS, loopbackScalingArgs, startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { waitFor } from '../helpers/wait.ts';
import { KubeClient } from '../../operator/kube/client.ts';
import { RUNTIME_PORT } from '../../operator/reconcilers/deployment.ts';
import { SCALED_TO_ZERO_ANNOTATION } from '../../operator/scale-to-zero/index.ts';
import { PodRuntimes, loopbackOnly, viaActivator } from './runtimes.ts';
import { slowApi, slowRuntimes } from './slow-api.ts';

const BUILD_TIMEOUT_MS = 60 * 60_000;
const NS = 'zero';
const API = 'slow'; // test/autoscaling/fixtures/slow: answers {"slept_ms": n} after sleeping n ms
const IDLE = '10s';
const IDLE_S = 10;
const HOLD_S = 25; // --activator-timeout

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from kubectl, read field by field
type Obj = any;

const realtimeApi = (name: string, spec: { autoscaling: object; compute?: object }) => slowApi(NS, name, spec);

describe(
  'scale to zero: an idle API goes to zero and its next request wakes it through the activator',
  { concurrency: false },
  () => {
    let dir: string;
    let cluster: Cluster;
    let client: KubeClient;
    let operator: OperatorProcess | undefined;
    let runtimes: PodRuntimes | undefined;
    let activatorPort: number;

    const k = (args: string[], input?: string) => cluster.kubectl(args, { input });
    const get = (p: string): Promise<Obj> => client.request(HttpMethod.GET, p);
    const deployment = (name = API) => get(`/apis/apps/v1/namespaces/${NS}/deployments/${name}`);
    const rapi = (name = API) => get(`/apis/cortex.dev/v1alpha1/namespaces/${NS}/realtimeapis/${name}`);
    const activatorSlices = async (name = API): Promise<Obj[]> =>
      (
        await get(
          `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices?labelSelector=` +
            encodeURIComponent(
              `kubernetes.io/service-name=${name},endpointslice.kubernetes.io/managed-by=cortex-operator`,
            ),
        )
      ).items;
    const readyCondition = (r: Obj) => r.status?.conditions?.find((c: Obj) => c.type === 'Ready');
    const events = async (reason: string): Promise<Obj[]> =>
      (await get(`/api/v1/namespaces/${NS}/events?fieldSelector=${encodeURIComponent(`reason=${reason}`)}`)).items;
    const operatorMetric = async (name: string): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${operator!.healthPort}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
      return line === undefined ? 0 : Number(line.split(' ').at(-1));
    };

    before(
      async () => {
        dir = mkdtempSync(path.join(tmpdir(), 'cortex-zero-test-'));
        const poolsFile = path.join(dir, 'node-pools.yaml');
        cluster = await startCluster({
          stateDir: path.join(dir, 'state'),
          nodePoolsFile: poolsFile,
          podCidr: LOOPBACK_POD_CIDR,
        });
        await k(['create', 'namespace', NS]);
        activatorPort = await freePort();
        operator = await startOperator(cluster, dir, {
          nodePoolsFile: poolsFile,
          extraArgs: [...(await loopbackScalingArgs(activatorPort, `${HOLD_S}s`)), '--log-level', 'debug'],
        });
        ({ client, runtimes } = await slowRuntimes(cluster, NS, API, dir));
      },
      { timeout: BUILD_TIMEOUT_MS },
    );

    after(async () => {
      await runtimes?.stop();
      await operator?.stop();
      if (process.exitCode || process.env.CORTEX_TEST_OPERATOR_LOG) {
        process.stderr.write(`--- operator log (last 120 lines) ---\n${operator?.logs.slice(-120).join('\n')}\n`);
        process.stderr.write(`--- runtimes log (last 40 lines) ---\n${runtimes?.log.slice(-40).join('\n')}\n`);
      }
      await cluster?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test(
      `an API with minReplicas 0 serves, then after ${IDLE} without requests its Deployment goes to 0 replicas ` +
        "and its Service's EndpointSlice points at the activator",
      { timeout: 5 * 60_000 },
      async (t) => {
        await k(
          ['apply', '--server-side', '--field-manager=test', '-f', '-'],
          realtimeApi(API, {
            autoscaling: { minReplicas: 0, initReplicas: 1, maxReplicas: 2, scaleToZeroAfter: IDLE },
          }),
        );
        const rt = runtimes!;
        const [ip] = await waitFor(
          "the first replica's runtime to be ready",
          async () => rt.readyIps().length === 1 && rt.readyIps(),
          120_000,
        );
        const served = await fetch(`http://${loopbackOnly(ip)}:${RUNTIME_PORT}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"sleep_ms": 10}',
        });
        assert.equal(served.status, 200);
        assert.deepEqual(await served.json(), { slept_ms: 10 });
        const lastRequest = Date.now();
        // a ready replica: the Service goes to the replicas only
        await waitFor(
          'no activator EndpointSlice while a replica is ready',
          async () => (await activatorSlices()).length === 0,
          60_000,
        );

        const zero = await waitFor(
          'the Deployment at 0 replicas',
          async () => {
            const d = await deployment();
            return d.spec.replicas === 0 && d;
          },
          120_000,
        );
        const idleFor = (Date.now() - lastRequest) / 1000;
        assert.ok(
          idleFor >= IDLE_S,
          `went to zero ${idleFor.toFixed(1)} s after the last request, not before scaleToZeroAfter (${IDLE})`,
        );
        assert.match(zero.metadata.annotations?.[SCALED_TO_ZERO_ANNOTATION] ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

        // the last replica may still be draining when the status first says ScaledToZero (ready 1/0)
        const r = await waitFor(
          'the status to say ScaledToZero with no replica left',
          async () => {
            const x = await rapi();
            return readyCondition(x)?.reason === 'ScaledToZero' && x.status?.ready === '0/0' && x;
          },
          60_000,
        );
        assert.equal(r.status.status, 'live');
        assert.equal(r.status.ready, '0/0');
        assert.match(readyCondition(r).message, new RegExp(`scaled to zero at .* after ${IDLE} without a request`));

        const [slice] = await waitFor(
          'the activator EndpointSlice',
          async () => {
            const s = await activatorSlices();
            return s.length === 1 && s;
          },
          30_000,
        );
        assert.deepEqual(
          slice.endpoints.map((e: Obj) => e.addresses),
          [[ACTIVATOR_ADDRESS]],
        );
        assert.deepEqual(slice.ports, [{ name: 'http', protocol: 'TCP', port: activatorPort }]);
        assert.equal(slice.metadata.ownerReferences[0].kind, 'RealtimeAPI');
        const service = await get(`/api/v1/namespaces/${NS}/services/${API}`);
        assert.deepEqual(service.spec.selector, { 'cortex.dev/api': API }, 'the Service itself is unchanged');

        assert.equal((await events('ScaledToZero')).length, 1);
        await waitFor("the replica's runtime to stop with its pod", async () => rt.pods().length === 0, 60_000);
        t.diagnostic(`to zero ${idleFor.toFixed(1)} s after the last request (scaleToZeroAfter ${IDLE})`);
      },
    );

    test(
      'requests to the API at zero are held by the activator, wake it once, ' +
        "and get the predictor's answer after the cold start",
      { timeout: 3 * 60_000 },
      async (t) => {
        const rt = runtimes!;
        const host = `${API}.${NS}.svc.cluster.local`;
        const sent = Date.now();
        const marks: Record<string, number> = {};
        let polling = true;
        const poller = (async () => {
          while (polling) {
            const since = (Date.now() - sent) / 1000;
            const [d, pods] = await Promise.all([
              deployment(),
              get(`/api/v1/namespaces/${NS}/pods?labelSelector=cortex.dev%2Fapi%3D${API}`),
            ]).catch(() => [undefined, undefined]);
            if (d?.spec.replicas === 1) marks.scaled ??= since;
            if (pods?.items.some((p: Obj) => p.status?.phase === 'Running')) marks.running ??= since;
            await sleep(100);
          }
        })();
        const answers = Promise.all([1, 2, 3].map(() => viaActivator(activatorPort, host, { sleep_ms: 10 })));
        // held: nothing answered while the replica starts
        await waitFor(
          'three requests held in the activator',
          async () => (await operatorMetric('cortex_operator_activator_held_requests')) === 3,
          30_000,
        );
        const done = await answers;
        polling = false;
        await poller;
        assert.deepEqual(
          done.map((a) => a.status),
          [200, 200, 200],
          done.map((a) => a.body).join('\n'),
        );
        for (const a of done) assert.deepEqual(JSON.parse(a.body), { slept_ms: 10 });
        assert.ok(marks.scaled !== undefined, `the Deployment went to 1: ${JSON.stringify(marks)}`);
        // when the new replica's runtime said it was ready (its own log line)
        const readyLine = rt.log.filter((l) => l.includes(`"message":"${API} is ready"`)).at(-1);
        const readyAt = readyLine ? Date.parse(JSON.parse(readyLine.slice(readyLine.indexOf('{'))).time) : NaN;
        marks.runtimeReady = (readyAt - sent) / 1000;
        assert.ok(
          marks.runtimeReady > 0,
          `the answers came from a runtime started after the requests: ${JSON.stringify(marks)}`,
        );
        const coldStart = Math.max(...done.map((a) => a.ms)) / 1000;

        assert.equal(
          await operatorMetric('cortex_operator_activator_wakes_total'),
          1,
          'one wake-up for the three requests',
        );
        assert.equal(await operatorMetric('cortex_operator_activator_cold_start_seconds_count'), 1);
        assert.equal(await operatorMetric('cortex_operator_activator_held_requests'), 0);
        assert.equal(
          (await deployment()).metadata.annotations?.[SCALED_TO_ZERO_ANNOTATION],
          undefined,
          'woken: the mark is gone',
        );
        assert.equal((await events('ScaledFromZero')).length, 1);
        await waitFor(
          'the activator EndpointSlice to go once a replica is ready',
          async () => (await activatorSlices()).length === 0,
          60_000,
        );
        const r = await waitFor(
          'the status to be live 1/1',
          async () => {
            const x = await rapi();
            return x.status?.ready === '1/1' && readyCondition(x)?.reason === 'Live' && x;
          },
          60_000,
        );
        assert.equal(r.status.status, 'live');
        t.diagnostic(
          `cold start ${coldStart.toFixed(2)} s (request sent → answer); ` +
            `Deployment at 1 replica after ${marks.scaled.toFixed(2)} s, ` +
            `pod Running after ${marks.running?.toFixed(2)} s, runtime ready after ${marks.runtimeReady.toFixed(2)} s`,
        );
      },
    );

    test('a request for an API that does not exist gets 404 from the activator', async () => {
      const a = await viaActivator(activatorPort, `nope.${NS}.svc`, {});
      assert.equal(a.status, 404);
      assert.equal(JSON.parse(a.body).error, `no RealtimeAPI nope in namespace ${NS} (named by Host "nope.${NS}.svc")`);
    });

    test(
      `a request for an API at zero that cannot start gets 503 after ${HOLD_S} s with Retry-After and the reason, ` +
        'and the API goes back to zero',
      { timeout: 4 * 60_000 },
      async () => {
        // 64 CPUs per replica: more than any node has (8 on the CPU pool; the GPU pool is tainted)
        await k(
          ['apply', '--server-side', '--field-manager=test', '-f', '-'],
          realtimeApi('huge', {
            compute: { cpu: '64' },
            autoscaling: { minReplicas: 0, initReplicas: 0, maxReplicas: 1, scaleToZeroAfter: IDLE },
          }),
        );
        await waitFor(
          'huge at zero with the activator EndpointSlice',
          async () =>
            readyCondition(await rapi('huge'))?.reason === 'ScaledToZero' &&
            (await activatorSlices('huge')).length === 1,
          60_000,
        );

        const a = await viaActivator(activatorPort, `huge.${NS}`, { sleep_ms: 10 });
        assert.equal(a.status, 503);
        assert.equal(a.headers['retry-after'], '10');
        assert.ok(a.ms >= HOLD_S * 1000, `held for the whole timeout (${a.ms} ms)`);
        assert.match(
          JSON.parse(a.body).error,
          new RegExp(
            `^the API ${NS}/huge did not become ready within ${HOLD_S}s: compute unavailable: ` +
              'no node can run pod huge-[a-z0-9-]+: 0/4 nodes are available: .*Insufficient cpu.*; retry later$',
          ),
        );
        assert.equal((await rapi('huge')).status.status, 'compute unavailable');

        // woken, never ready, nothing held any more: back to zero after scaleToZeroAfter
        const answered = Date.now();
        await waitFor('huge back at 0 replicas', async () => (await deployment('huge')).spec.replicas === 0, 90_000);
        assert.ok((Date.now() - answered) / 1000 >= IDLE_S - 1, 'not before scaleToZeroAfter');
      },
    );
  },
);
