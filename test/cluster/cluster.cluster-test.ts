// The test control plane itself: a real kube-apiserver, controller-manager and scheduler with
// kwok's fake nodes. Not part of `npm test` (a cold machine builds Kubernetes first, ~11 min):
// run with `npm run test:cluster`.
import { waitFor } from '../helpers/wait.ts';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { ensureBinaries } from './build.ts';
import { applyCrds, OPERATOR_NAMESPACE, REPO_CRDS_DIR, startCluster, type Cluster } from './cluster.ts';
import { FAKE_NODES, GPU_RESOURCE, GPU_TAINT, POOL_LABEL, type NodePool } from './nodes.ts';
import { KUBERNETES_VERSION } from './paths.ts';
import { alive, daemons } from './processes.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUILD_TIMEOUT_MS = 60 * 60_000;

interface Node {
  metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: { taints?: { key: string; value?: string; effect: string }[] };
  status: {
    conditions: { type: string; status: string }[];
    capacity: Record<string, string | undefined>;
    allocatable: Record<string, string | undefined>;
  };
}

interface Pod {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status: { phase: string; podIP?: string; conditions?: { type: string; status: string; reason?: string }[] };
}

function gpuPod(name: string, tolerate: boolean): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      containers: [{ name: 'main', image: 'fake.invalid/gpu:1', resources: { limits: { [GPU_RESOURCE]: '1' } } }],
      tolerations: tolerate
        ? [{ key: GPU_TAINT.key, operator: 'Equal', value: GPU_TAINT.value, effect: GPU_TAINT.effect }]
        : [],
    },
  };
}

describe('test cluster', { concurrency: false }, () => {
  let dir: string;
  let cluster: Cluster;
  let ns: string;

  before(
    async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'cortex-cluster-test-'));
      cluster = await startCluster({
        stateDir: path.join(dir, 'state'),
        nodePoolsFile: path.join(dir, 'node-pools.yaml'),
        crdsDir: false,
      });
      ns = 'cluster-test';
      await cluster.kubectl(['create', 'namespace', ns]);
      await waitFor('the default service account', () =>
        cluster.kubectl(['get', 'serviceaccount', 'default', '-n', ns, '-o', 'name']),
      );
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the API server reports the version that was built', async () => {
    const v = JSON.parse(await cluster.kubectl(['get', '--raw', '/version'])) as {
      gitVersion: string;
      major: string;
      minor: string;
    };
    assert.equal(v.gitVersion, KUBERNETES_VERSION);
    assert.equal(`v${v.major}.${v.minor}`, KUBERNETES_VERSION.split('.').slice(0, 2).join('.'));
    const ready = await cluster.kubectl(['get', '--raw', '/readyz']);
    assert.equal(ready, 'ok');
  });

  test('4 fake nodes are Ready with their pool labels, taints and capacity', async () => {
    const nodes = (await cluster.kubectl.json<{ items: Node[] }>(['get', 'nodes'])).items;
    assert.deepEqual(nodes.map((n) => n.metadata.name).sort(), [...FAKE_NODES].sort());
    for (const n of nodes) {
      assert.equal(n.metadata.annotations['kwok.x-k8s.io/node'], 'fake');
      const readyCond = n.status.conditions.find((c) => c.type === 'Ready');
      assert.equal(readyCond?.status, 'True', `${n.metadata.name} Ready`);
      const pool = n.metadata.labels[POOL_LABEL];
      const taints = (n.spec.taints ?? []).filter((t) => !t.key.startsWith('node.kubernetes.io/'));
      if (n.metadata.name.startsWith('kwok-gpu-')) {
        assert.equal(pool, 'gpu');
        assert.equal(n.status.capacity[GPU_RESOURCE], '8');
        assert.equal(n.status.allocatable[GPU_RESOURCE], '8');
        assert.deepEqual(taints, [GPU_TAINT]);
      } else {
        assert.equal(pool, 'cpu');
        assert.equal(n.status.capacity[GPU_RESOURCE], undefined);
        assert.equal(n.status.allocatable.cpu, '8');
        assert.deepEqual(taints, []);
      }
    }
  });

  test("the operator's namespace exists, so cortex-operator needs no flags against this cluster", async () => {
    assert.equal(
      (await cluster.kubectl(['get', 'namespace', OPERATOR_NAMESPACE, '-o', 'name'])).trim(),
      `namespace/${OPERATOR_NAMESPACE}`,
    );
  });

  test('node-pools.yaml describes the fake pools', () => {
    const pools = parse(readFileSync(path.join(dir, 'node-pools.yaml'), 'utf8')) as NodePool[];
    assert.deepEqual(
      pools.map((p) => p.name),
      ['cpu', 'gpu'],
    );
    assert.deepEqual(pools[1], {
      name: 'gpu',
      nodeSelector: { [POOL_LABEL]: 'gpu' },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Equal', value: 'present', effect: 'NoSchedule' }],
      gpuResource: 'nvidia.com/gpu',
      gpuType: 'NVIDIA-A10G',
    });
    assert.equal(pools[0].gpuResource, null);
  });

  test(
    'a Deployment becomes available, its pods Running on kwok CPU nodes; ' +
      'deleting it collects its ReplicaSet and pods',
    async () => {
      const k = cluster.kubectl;
      await k(['create', 'deployment', 'web', '-n', ns, '--image=fake.invalid/web:1', '--replicas=2']);
      await k(['rollout', 'status', 'deployment/web', '-n', ns, '--timeout=90s'], { timeoutMs: 120_000 });
      const d = await k.json<{ status: { availableReplicas?: number } }>(['get', 'deployment', 'web', '-n', ns]);
      assert.equal(d.status.availableReplicas, 2);
      const pods = (await k.json<{ items: Pod[] }>(['get', 'pods', '-n', ns, '-l', 'app=web'])).items;
      assert.equal(pods.length, 2);
      for (const p of pods) {
        assert.equal(p.status.phase, 'Running');
        assert.match(p.spec.nodeName ?? '', /^kwok-cpu-\d$/, `${p.metadata.name} on a CPU node (no toleration)`);
        assert.match(p.status.podIP ?? '', /^10\.244\./);
      }
      const rs = (await k.json<{ items: unknown[] }>(['get', 'replicasets', '-n', ns, '-l', 'app=web'])).items;
      assert.equal(rs.length, 1);

      await k(['delete', 'deployment', 'web', '-n', ns, '--cascade=background', '--wait=false']);
      await waitFor(
        'the ReplicaSet and pods to be garbage-collected',
        async () => {
          const left = await k(['get', 'replicasets,pods', '-n', ns, '-l', 'app=web', '-o', 'name']);
          return left.trim() === '';
        },
        90_000,
      );
    },
  );

  test('a GPU pod with the toleration lands on a GPU node; one without it never does', async () => {
    const k = cluster.kubectl;
    await k(['apply', '-n', ns, '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [gpuPod('gpu-tolerated', true), gpuPod('gpu-untolerated', false)],
      }),
    });
    const placed = await waitFor('gpu-tolerated Running', async () => {
      const p = await k.json<Pod>(['get', 'pod', 'gpu-tolerated', '-n', ns]);
      return p.status.phase === 'Running' && p;
    });
    assert.match(placed.spec.nodeName ?? '', /^kwok-gpu-\d$/);
    const unschedulable = await waitFor('gpu-untolerated reported Unschedulable', async () => {
      const p = await k.json<Pod>(['get', 'pod', 'gpu-untolerated', '-n', ns]);
      return (
        p.status.conditions?.find(
          (c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable',
        ) && p
      );
    });
    assert.equal(unschedulable.spec.nodeName, undefined);
    await sleep(3000);
    const still = await k.json<Pod>(['get', 'pod', 'gpu-untolerated', '-n', ns]);
    assert.equal(still.spec.nodeName, undefined, 'an untolerated GPU pod is never bound');
    assert.equal(still.status.phase, 'Pending');
    await k(['delete', 'pod', 'gpu-tolerated', 'gpu-untolerated', '-n', ns, '--wait=true', '--timeout=60s'], {
      timeoutMs: 90_000,
    });
  });

  test('the HPA controller runs: a HorizontalPodAutoscaler gets status conditions', async () => {
    const k = cluster.kubectl;
    await k(['create', 'deployment', 'scaled', '-n', ns, '--image=fake.invalid/web:1', '--replicas=1']);
    await k(['set', 'resources', 'deployment/scaled', '-n', ns, '--requests=cpu=100m']);
    await k(['autoscale', 'deployment/scaled', '-n', ns, '--min=1', '--max=3', '--cpu-percent=50']);
    // No metrics API here: the controller says so, which proves it looked.
    const conditions = await waitFor(
      'HPA conditions',
      async () => {
        const hpa = await k.json<{ status?: { conditions?: { type: string; status: string }[] } }>([
          'get',
          'hpa',
          'scaled',
          '-n',
          ns,
        ]);
        const conditions = hpa.status?.conditions ?? [];
        return conditions.length > 0 && conditions;
      },
      90_000,
    );
    assert.ok(
      conditions.some((c) => c.type === 'AbleToScale' && c.status === 'True'),
      JSON.stringify(conditions),
    );
    await k(['delete', 'hpa,deployment', 'scaled', '-n', ns]);
  });

  test(
    'an aggregated API served on 127.0.0.1 is reached ' + 'through the front proxy (ExternalName localhost)',
    async (t) => {
      const pki = path.join(cluster.stateDir, 'pki');
      const seen: { user?: string; groups: string; clientCert: boolean }[] = [];
      const group = 'pings.test.cortex.dev';
      const server = https.createServer(
        {
          cert: readFileSync(path.join(pki, 'apiserver.crt')),
          key: readFileSync(path.join(pki, 'apiserver.key')),
          ca: readFileSync(path.join(pki, 'front-proxy-ca.crt')),
          requestCert: true,
          rejectUnauthorized: true,
        },
        (req, res) => {
          const send = (code: number, body: object) =>
            res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
          if (req.url === `/apis/${group}/v1`) {
            return send(200, {
              kind: 'APIResourceList',
              apiVersion: 'v1',
              groupVersion: `${group}/v1`,
              resources: [{ name: 'pings', singularName: 'ping', namespaced: true, kind: 'Ping', verbs: ['get'] }],
            });
          }
          const m = /^\/apis\/pings\.test\.cortex\.dev\/v1\/namespaces\/([^/]+)\/pings\/([^/?]+)/.exec(req.url ?? '');
          if (m) {
            seen.push({
              user: req.headers['x-remote-user'] as string,
              groups: String(req.headers['x-remote-group']),
              clientCert: (req.socket as import('node:tls').TLSSocket).authorized,
            });
            return send(200, {
              kind: 'Ping',
              apiVersion: `${group}/v1`,
              metadata: { name: m[2], namespace: m[1] },
              user: req.headers['x-remote-user'],
            });
          }
          send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404 });
        },
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const port = (server.address() as AddressInfo).port;
      const k = cluster.kubectl;
      await k(['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'v1',
          kind: 'List',
          items: [
            {
              apiVersion: 'v1',
              kind: 'Service',
              metadata: { name: 'pings', namespace: ns },
              spec: { type: 'ExternalName', externalName: 'localhost' },
            },
            {
              apiVersion: 'apiregistration.k8s.io/v1',
              kind: 'APIService',
              metadata: { name: `v1.${group}` },
              spec: {
                group,
                version: 'v1',
                groupPriorityMinimum: 100,
                versionPriority: 100,
                insecureSkipTLSVerify: true,
                service: { namespace: ns, name: 'pings', port },
              },
            },
          ],
        }),
      });
      await k(['wait', '--for=condition=Available', `apiservice/v1.${group}`, '--timeout=60s'], { timeoutMs: 90_000 });
      const ping = JSON.parse(await k(['get', '--raw', `/apis/${group}/v1/namespaces/${ns}/pings/hello`])) as {
        metadata: { name: string };
        user: string;
      };
      assert.equal(ping.metadata.name, 'hello');
      assert.equal(ping.user, 'cortex-test-admin');
      assert.ok(
        seen.some((r) => r.clientCert && r.groups.includes('system:masters')),
        JSON.stringify(seen),
      );
      await k(['delete', `apiservice/v1.${group}`]);
      await k(['delete', 'service', 'pings', '-n', ns]);
    },
  );

  test('applyCrds applies a folder of CRDs and waits until they are Established', async () => {
    const crds = path.join(dir, 'crds');
    mkdirSync(crds);
    writeFileSync(
      path.join(crds, 'widgets.yaml'),
      stringify({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'widgets.example.cortex.dev' },
        spec: {
          group: 'example.cortex.dev',
          scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: { spec: { type: 'object', properties: { size: { type: 'integer', minimum: 1 } } } },
                },
              },
            },
          ],
        },
      }),
    );
    writeFileSync(path.join(crds, 'README.txt'), 'not YAML: ignored');
    assert.deepEqual(await applyCrds(cluster.kubectl, crds), [
      'customresourcedefinition.apiextensions.k8s.io/widgets.example.cortex.dev',
    ]);
    const widget = { apiVersion: 'example.cortex.dev/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { size: 3 } };
    await cluster.kubectl(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(widget) });
    assert.equal(
      (await cluster.kubectl.json<{ spec: { size: number } }>(['get', 'widget', 'w', '-n', ns])).spec.size,
      3,
    );
    await assert.rejects(
      cluster.kubectl(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify({ ...widget, spec: { size: 0 } }) }),
      /should be greater than or equal to 1/,
    );
  });

  test(
    'every CRD in crds/ is accepted by the API server and Established',
    { skip: !existsSync(REPO_CRDS_DIR) && 'no crds/' },
    async () => {
      const names = await applyCrds(cluster.kubectl);
      assert.ok(names.length > 0, 'crds/ holds CustomResourceDefinitions');
    },
  );

  test('stop() ends every process and removes the state', async () => {
    const pids = daemons(cluster.stateDir).map((d) => d.pid);
    assert.equal(pids.length, 5);
    assert.ok(pids.every(alive));
    await cluster.stop();
    assert.deepEqual(pids.filter(alive), []);
    assert.equal(existsSync(cluster.stateDir), false);
  });
});

describe('npm run cluster -- up|status|down', () => {
  const cli = path.join(here, 'cli.ts');
  let dir: string;
  let env: Record<string, string>;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cortex-cluster-cli-'));
    env = {
      CORTEX_TEST_CLUSTER_DIR: path.join(dir, 'state'),
      CORTEX_NODE_POOLS_FILE: path.join(dir, 'pools', 'node-pools.yaml'),
    };
  });

  after(async () => {
    await execa(process.execPath, [cli, 'down'], { env, reject: false });
    rmSync(dir, { recursive: true, force: true });
  });

  test(
    'up prints KUBECONFIG= last, again when already up; status; down leaves no processes',
    { timeout: BUILD_TIMEOUT_MS },
    async () => {
      const up = await execa(process.execPath, [cli, 'up'], { env });
      const last = up.stdout.trim().split('\n').at(-1);
      assert.equal(last, `KUBECONFIG=${path.join(dir, 'state', 'kubeconfig')}`);
      assert.ok(existsSync(env.CORTEX_NODE_POOLS_FILE));

      const again = await execa(process.execPath, [cli, 'up'], { env });
      assert.equal(again.stdout.trim().split('\n').at(-1), last);
      assert.match(again.stderr, /already up/);

      const status = await execa(process.execPath, [cli, 'status'], { env, reject: false });
      assert.equal(status.exitCode, 0, status.stdout);
      assert.match(status.stdout, /kube-apiserver .* ready/);
      const pids = daemons(env.CORTEX_TEST_CLUSTER_DIR).map((d) => d.pid);
      assert.equal(pids.length, 5);

      const kubeconfig = last!.slice('KUBECONFIG='.length);
      const nodes = await execa((await ensureBinaries()).kubectl, ['get', 'nodes', '-o', 'name'], {
        env: { KUBECONFIG: kubeconfig },
      });
      assert.equal(nodes.stdout.trim().split('\n').length, 4);

      await execa(process.execPath, [cli, 'down'], { env });
      assert.deepEqual(pids.filter(alive), []);
      assert.equal(existsSync(env.CORTEX_TEST_CLUSTER_DIR), false);
      const down = await execa(process.execPath, [cli, 'status'], { env, reject: false });
      assert.equal(down.exitCode, 1);
    },
  );
});
