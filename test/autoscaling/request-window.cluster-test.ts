// `cortex get API`'s last minutes on a cluster, end to end: real requests (fast, slow and
// failing) to a real `cortex serve` on the pod's loopback IP (runtimes.ts), scraped by the
// operator's metrics adapter, served as object metrics of the RealtimeAPI through the API
// server's aggregator (the APIService, as in hpa.cluster-test.ts), read by the CLI running as a
// user bound to exactly the rules it declares (cli/cluster/rbac.ts).
// Not part of `npm test`: `npm run test:cluster`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LOOPBACK_POD_CIDR, startCluster, type Cluster } from '../cluster/cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import type { OperatorProcess } from '../helpers/operator.ts';
import { kubeconfigAs } from '../helpers/identity.ts';
import { localEnv, type LocalEnv } from '../helpers/local.ts';
import { cliUserRules } from '../../cli/cluster/rbac.ts';
import { mergeRules } from '../../operator/rbac.ts';
import { RUNTIME_PORT } from '../../operator/reconcilers/deployment.ts';
import { operatorWithMetricsApi } from './metrics-api.ts';
import { loopbackOnly, type PodRuntimes } from './runtimes.ts';
import { slowApi, slowRuntimes } from './slow-api.ts';

const BUILD_TIMEOUT_MS = 60 * 60_000;
const NS = 'window';
const API = 'slow';
const USER = 'alice';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON, read field by field
type Obj = any;

describe("cortex get API shows the operator's window of requests, errors and latency", { concurrency: false }, () => {
  let dir: string;
  let cluster: Cluster;
  let operator: OperatorProcess | undefined;
  let runtimes: PodRuntimes | undefined;
  let cli: LocalEnv | undefined;
  const k = (args: string[], input?: string) => cluster.kubectl(args, { input });

  before(
    async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'cortex-window-test-'));
      const poolsFile = path.join(dir, 'node-pools.yaml');
      cluster = await startCluster({
        stateDir: path.join(dir, 'state'),
        nodePoolsFile: poolsFile,
        podCidr: LOOPBACK_POD_CIDR,
      });
      await k(['create', 'namespace', NS]);
      operator = await operatorWithMetricsApi(cluster, dir, poolsFile);
      // the CLI as a person bound in the namespace to exactly the rules it declares
      await k(
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRole',
          metadata: { name: 'cortex-user' },
          rules: mergeRules(cliUserRules),
        }),
      );
      await k(['create', 'rolebinding', 'alice-cortex', '-n', NS, '--clusterrole=cortex-user', `--user=${USER}`]);
      cli = await localEnv();
      const env = await cli.cortex(
        [
          'env',
          'configure',
          'test',
          '--kubeconfig',
          kubeconfigAs(cluster, USER, path.join(dir, 'alice.kubeconfig')),
          '--namespace',
          NS,
        ],
        { cwd: dir },
      );
      assert.equal(env.code, 0, env.stderr);

      ({ runtimes } = await slowRuntimes(cluster, NS, API, dir));
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    await runtimes?.stop();
    await operator?.stop();
    if (process.exitCode)
      process.stderr.write(`--- operator log (last 60 lines) ---\n${operator?.logs.slice(-60).join('\n')}\n`);
    await cli?.cleanup();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test(
    'after fast, slow and failing requests, the custom metrics URL and cortex get (text and -o json) ' +
      "report the window's requests, 5XX share, p50 and p99",
    { timeout: 10 * 60_000 },
    async () => {
      await k(
        ['apply', '--server-side', '--field-manager=test', '-f', '-'],
        slowApi(NS, API, { autoscaling: { minReplicas: 1, maxReplicas: 1 } }),
      );
      const rt = runtimes!;
      await waitFor("the replica's runtime to be ready", async () => rt.readyIps().length === 1, 120_000);
      const ip = loopbackOnly(rt.readyIps()[0]);
      const send = async (body: object) => {
        const res = await fetch(`http://${ip}:${RUNTIME_PORT}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        await res.arrayBuffer();
        return res.status;
      };
      // 8 fast, 2 slow (1.5 s: the (1, 2.5] bucket), 2 failing: 12 requests, 2 of them 5xx
      const statuses = await Promise.all([
        ...Array.from({ length: 8 }, () => send({ sleep_ms: 0 })),
        send({ sleep_ms: 1500 }),
        send({ sleep_ms: 1500 }),
        send({ sleep_ms: 0, fail: true }),
        send({ sleep_ms: 0, fail: true }),
      ]);
      assert.deepEqual(
        statuses.filter((s) => s !== 200),
        [500, 500],
      );

      // through the aggregator, as the API server serves it
      const url = (metric: string) =>
        `/apis/custom.metrics.k8s.io/v1beta2/namespaces/${NS}/realtimeapis.cortex.dev/${API}/${metric}`;
      const item = async (metric: string): Promise<Obj> => JSON.parse(await k(['get', '--raw', url(metric)])).items[0];
      await waitFor(
        'the metrics API to count the 12 requests',
        async () => (await item('cortex_requests').catch(() => undefined))?.value === '12',
        60_000,
      );
      const ratio = await item('cortex_request_error_ratio');
      assert.deepEqual(ratio.describedObject, {
        kind: 'RealtimeAPI',
        namespace: NS,
        name: API,
        apiVersion: 'cortex.dev/v1alpha1',
      });
      assert.equal(ratio.metric.name, 'cortex_request_error_ratio');
      assert.ok(ratio.windowSeconds >= 1 && ratio.windowSeconds <= 300, String(ratio.windowSeconds));
      assert.equal(ratio.value, '166667u'); // 2 / 12

      // the CLI, as alice
      const r = await cli!.cortex(['get', API, '-e', 'test', '-o', 'json'], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      const recent = JSON.parse(r.stdout).recent;
      assert.equal(recent.source, 'metrics-api', JSON.stringify(recent));
      assert.equal(recent.requests, 12);
      assert.ok(Math.abs(recent.errorRatio - 2 / 12) < 1e-6, String(recent.errorRatio));
      assert.ok(recent.p50Ms < 250, `p50 ${recent.p50Ms} ms: among the fast ones`);
      assert.ok(recent.p99Ms > 1000 && recent.p99Ms <= 2500, `p99 ${recent.p99Ms} ms: in the slow ones' bucket`);
      const text = await cli!.cortex(['get', API, '-e', 'test'], { cwd: dir });
      assert.match(
        text.stdout,
        /\nrequests: +12 requests, 16\.7% 5XX, p50 .+, p99 .+ \(the last .+, from the operator's metrics API\)\n/,
      );
    },
  );

  test('without the metrics API (its APIService removed), cortex get still answers, falling back', async () => {
    await k(['delete', 'apiservice', 'v1beta2.custom.metrics.k8s.io', 'v1beta1.custom.metrics.k8s.io']);
    await waitFor(
      'the API server to stop serving custom.metrics.k8s.io',
      async () => !(await k(['api-versions'])).includes('custom.metrics.k8s.io'),
      60_000,
    );
    const r = await cli!.cortex(['get', API, '-e', 'test', '-o', 'json'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    // the fallback reads the pods through the API server's pod proxy, which refuses this test's
    // loopback pod IPs: no figures at all, rather than the metrics API's or an error
    const recent = JSON.parse(r.stdout).recent;
    assert.ok(recent === undefined || recent.source === 'replicas', JSON.stringify(recent));
  });
});
