// `cortex deploy` to a cluster environment, end to end, against the real control plane of
// test/cluster (kube-apiserver, controller-manager with the garbage collector, scheduler, kwok
// nodes that mark pods Running) with the operator running as a local process under its declared
// RBAC, and the CLI as a user bound to exactly the rules it declares (cli/cluster/rbac.ts). Pods
// on kwok nodes run nothing, so predictions are not exercised here (logs: cluster-logs.cluster-test.ts).
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { kubeconfigAs } from '../helpers/identity.ts';
import { cliUserRules } from '../../cli/cluster/rbac.ts';
import { mergeRules } from '../../operator/rbac.ts';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { copyProject, localEnv, type LocalEnv } from '../helpers/local.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { waitFor } from '../helpers/wait.ts';
import { cortexBin } from '../helpers/serve.ts';

const BUILD_TIMEOUT_MS = 60 * 60_000;
const NS = 'ml';
const API = 'iris-classifier';
const USER = 'alice';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from kubectl, read field by field
type Obj = any;

describe('cortex deploy to a cluster environment', { concurrency: false }, () => {
  let dir: string;
  let cluster: Cluster;
  let operator: OperatorProcess;
  let cli: LocalEnv;
  let project: string;

  const json = <T = Obj>(args: string[]): Promise<T> => cluster.kubectl.json<T>(args);
  const bundles = async (ns = NS): Promise<Obj[]> =>
    (await json<{ items: Obj[] }>(['get', 'configmaps', '-n', ns, '-l', 'cortex.dev/bundle'])).items;
  const cortex = async (args: string[], expectCode = 0) => {
    const r = await cli.cortex(args, { cwd: dir });
    assert.equal(r.code, expectCode, `cortex ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r;
  };

  before(
    async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'cortex-cluster-deploy-'));
      const nodePoolsFile = path.join(dir, 'node-pools.yaml');
      cluster = await startCluster({ stateDir: path.join(dir, 'state'), nodePoolsFile });
      await cluster.kubectl(['create', 'namespace', NS]);
      await cluster.kubectl(['create', 'namespace', 'gitops']);
      operator = await startOperator(cluster, dir, { nodePoolsFile });
      cli = await localEnv();
      project = copyProject('examples/iris-classifier');
      // the CLI runs as a person bound in the namespace to exactly the rules it declares
      // (the chart's <release>-user role)
      await cluster.kubectl(['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRole',
          metadata: { name: 'cortex-user' },
          rules: mergeRules(cliUserRules),
        }),
      });
      await cluster.kubectl([
        'create',
        'rolebinding',
        'alice-cortex',
        '-n',
        NS,
        '--clusterrole=cortex-user',
        `--user=${USER}`,
      ]);
      const userKubeconfig = kubeconfigAs(cluster, USER, path.join(dir, 'alice.kubeconfig'));
      await cortex(['env', 'configure', 'test', '--kubeconfig', userKubeconfig, '--namespace', NS]);
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    await operator?.stop();
    if (process.exitCode)
      process.stderr.write(`--- operator log (last 40 lines) ---\n${operator?.logs.slice(-40).join('\n')}\n`);
    await cli?.cleanup();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
    if (project) rmSync(project, { recursive: true, force: true });
  });

  test('env configure refuses a context the kubeconfig lacks, and saves nothing', async () => {
    const r = await cli.cortex(['env', 'configure', 'other', '--kubeconfig', cluster.kubeconfig, '--context', 'nope'], {
      cwd: dir,
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /has no context "nope"; its contexts: /);
    const list = JSON.parse((await cortex(['env', 'list', '-o', 'json'])).stdout) as { name: string }[];
    assert.deepEqual(list.map((e) => e.name).sort(), ['local', 'test']);
  });

  test('deploy uploads the bundle, applies the RealtimeAPI and waits until its pods run on kwok nodes', async () => {
    const r = await cortex(['deploy', project, '-e', 'test', '--wait', '--timeout', '3m']);
    assert.match(
      r.stdout,
      new RegExp(`${API} created and live in test: http://${API}\\.${NS}\\.svc\\.cluster\\.local/`),
    );
    assert.match(r.stderr, /packing the project/);
    assert.match(r.stderr, /uploading the bundle \(1 ConfigMap\)/);
    const api = await json(['get', 'realtimeapi', API, '-n', NS]);
    const cms = await bundles();
    assert.deepEqual(
      api.spec.predictor.bundle.configMaps,
      cms.map((c) => c.metadata.name),
    );
    assert.equal(cms[0].immutable, true);
    assert.equal(cms[0].metadata.annotations['cortex.dev/bundle-sha256'], api.spec.predictor.bundle.sha256);
    const pods = (await json<{ items: Obj[] }>(['get', 'pods', '-n', NS, '-l', `cortex.dev/api=${API}`])).items;
    assert.ok(pods.length >= 1);
    for (const p of pods) {
      assert.equal(p.status.phase, 'Running');
      assert.match(p.spec.nodeName, /^kwok-/, 'scheduled onto a fake node');
    }
    const get = JSON.parse((await cortex(['get', '-e', 'test', '-o', 'json'])).stdout) as Obj[];
    assert.deepEqual(
      get.map((a) => [a.name, a.status, a.ready, a.requested]),
      [[API, 'live', 1, 1]],
    );
    const again = await cortex(['deploy', project, '-e', 'test', '--wait', '-o', 'json']);
    assert.equal(JSON.parse(again.stdout)[0].action, 'up-to-date', 'the same project deploys as up to date');
  });

  test('a code change deploys a new bundle and rolls the replicas; the old bundle is garbage-collected', async () => {
    const before = await json(['get', 'realtimeapi', API, '-n', NS]);
    const oldBundle = before.spec.predictor.bundle;
    const oldRs = (
      await json<{ items: Obj[] }>(['get', 'replicasets', '-n', NS, '-l', `cortex.dev/api=${API}`])
    ).items.map((r) => r.metadata.name);
    appendFileSync(path.join(project, 'predictor.py'), '\n# a change\n');
    const r = await cortex(['deploy', project, '-e', 'test', '--wait', '--timeout', '3m', '-o', 'json']);
    const result = JSON.parse(r.stdout)[0];
    assert.equal(result.action, 'updated');
    assert.equal(result.status, 'live');
    const now = await json(['get', 'realtimeapi', API, '-n', NS]);
    assert.notEqual(now.spec.predictor.bundle.sha256, oldBundle.sha256);
    assert.notDeepEqual(now.spec.predictor.bundle.configMaps, oldBundle.configMaps);
    const d = await json(['get', 'deployment', API, '-n', NS]);
    assert.equal(d.spec.template.metadata.annotations['cortex.dev/bundle-sha256'], now.spec.predictor.bundle.sha256);
    const rs = (
      await json<{ items: Obj[] }>(['get', 'replicasets', '-n', NS, '-l', `cortex.dev/api=${API}`])
    ).items.map((x) => x.metadata.name);
    assert.ok(
      rs.some((name) => !oldRs.includes(name)),
      'a new ReplicaSet: a rolling update',
    );
    await waitFor(
      'the old bundle to be deleted',
      async () => {
        const names = (await bundles()).map((c) => c.metadata.name);
        return oldBundle.configMaps.every((n: string) => !names.includes(n)) && names;
      },
      60_000,
    );
  });

  test('refresh restarts the replicas (a new pod template, same spec)', async () => {
    const before = await json(['get', 'deployment', API, '-n', NS]);
    await cortex(['refresh', API, '-e', 'test']);
    const after = await json(['get', 'deployment', API, '-n', NS]);
    assert.ok(after.metadata.generation > before.metadata.generation);
    assert.ok(after.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt']);
  });

  test('render + kubectl apply gives the same objects as deploy', async () => {
    const out = path.join(dir, 'rendered');
    await cortex(['render', project, '-d', out]);
    await cluster.kubectl(['apply', '-n', 'gitops', '-k', out]);
    const [deployed, applied] = await Promise.all([
      json(['get', 'realtimeapi', API, '-n', NS]),
      json(['get', 'realtimeapi', API, '-n', 'gitops']),
    ]);
    assert.deepEqual(applied.spec, deployed.spec);
    const referenced = (list: Obj[]) =>
      list.filter((c) => deployed.spec.predictor.bundle.configMaps.includes(c.metadata.name));
    const [a, b] = (await Promise.all([bundles(NS), bundles('gitops')])).map(referenced);
    assert.equal(a.length, deployed.spec.predictor.bundle.configMaps.length);
    assert.deepEqual(
      b.map((c) => [c.metadata.name, c.binaryData, c.immutable]),
      a.map((c) => [c.metadata.name, c.binaryData, c.immutable]),
    );
    const d = await waitFor('the operator to create the gitops Deployment', () =>
      json(['get', 'deployment', API, '-n', 'gitops']),
    );
    const deployedD = await json(['get', 'deployment', API, '-n', NS]);
    const template = (x: Obj) => ({
      ...x.spec.template,
      metadata: {
        ...x.spec.template.metadata,
        annotations: { ...x.spec.template.metadata.annotations, 'kubectl.kubernetes.io/restartedAt': undefined },
      },
    });
    assert.deepEqual(JSON.parse(JSON.stringify(template(d))), JSON.parse(JSON.stringify(template(deployedD))));
    // rendering again into the same folder replaces the files; nothing changes when nothing did
    await cortex(['render', project, '-d', out]);
    await cluster.kubectl(['diff', '-n', 'gitops', '-k', out]); // exit 1 (a throw) when anything differs
  });

  test('an invalid cortex.yaml fails before anything is written', async () => {
    const bad = copyProject('examples/iris-classifier');
    try {
      writeFileSync(
        path.join(bad, 'cortex.yaml'),
        '- name: broken\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n' +
          '  autoscaling:\n    min_replicas: 5\n    max_replicas: 2\n',
      );
      const before = (await bundles()).length;
      const r = await cli.cortex(['deploy', bad, '-e', 'test'], { cwd: dir });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /cortex\.yaml:\d+:\d+.*broken.*min_replicas/s);
      assert.equal((await bundles()).length, before, 'no bundle uploaded');
      const apis = (await json<{ items: Obj[] }>(['get', 'realtimeapis', '-n', NS])).items.map((x) => x.metadata.name);
      assert.deepEqual(apis, [API]);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });

  test('an oversize project fails with what is big and the fixes, and uploads nothing', async () => {
    const big = copyProject('examples/iris-classifier');
    try {
      writeFileSync(path.join(big, 'weights.bin'), randomBytes(9 * 1024 * 1024));
      const before = (await bundles()).length;
      const r = await cli.cortex(['deploy', big, '-e', 'test'], { cwd: dir });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /weights\.bin/);
      assert.match(r.stderr, /\.cortexignore/);
      assert.match(r.stderr, /predictor\.image/);
      assert.equal((await bundles()).length, before);
    } finally {
      rmSync(big, { recursive: true, force: true });
    }
  });

  test('a missing namespace is named with the fix, and nothing is written', async () => {
    await cortex([
      'env',
      'configure',
      'nowhere',
      '--kubeconfig',
      cluster.kubeconfig,
      '--namespace',
      'missing',
      '--no-check',
    ]);
    const r = await cli.cortex(['deploy', project, '-e', 'nowhere'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /namespace missing does not exist in environment nowhere; create it/);
  });

  test('a user without the Cortex user role is told what is missing and how to get it', async () => {
    const bobKubeconfig = kubeconfigAs(cluster, 'bob', path.join(dir, 'bob.kubeconfig'));
    const refused = await cli.cortex(['env', 'configure', 'bob', '--kubeconfig', bobKubeconfig, '--namespace', NS], {
      cwd: dir,
    });
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /not allowed in namespace ml of environment bob .*--clusterrole=cortex-user.*\(nothing was saved; --no-check saves anyway\)/s,
    );
    await cortex(['env', 'configure', 'bob', '--kubeconfig', bobKubeconfig, '--namespace', NS, '--no-check']);
    const r = await cli.cortex(['deploy', project, '-e', 'bob'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not allowed in namespace ml/);
    assert.equal((await json<{ items: Obj[] }>(['get', 'realtimeapis', '-n', NS])).items.length, 1, 'nothing written');
  });

  test('a stuck rollout shows why; Ctrl-C stops the waiting, not the deploy', async () => {
    const gpu = copyProject('examples/iris-classifier');
    try {
      writeFileSync(
        path.join(gpu, 'cortex.yaml'),
        '- name: big-gpu\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n' +
          '  compute:\n    gpu: 16\n',
      );
      const proc = execa(process.execPath, [cortexBin, 'deploy', gpu, '-e', 'test', '--wait'], {
        env: { ...process.env, ...cli.env },
        reject: false,
        all: true,
        buffer: true,
      });
      let seen = '';
      proc.all?.on('data', (chunk: Buffer) => (seen += chunk.toString()));
      await waitFor(
        "the wait to show compute unavailable with the scheduler's reason",
        async () => /big-gpu: compute unavailable: .*nvidia\.com\/gpu/.test(seen),
        60_000,
      );
      proc.kill('SIGINT');
      const r = await proc;
      assert.equal(r.exitCode, 130, String(r.all));
      assert.match(String(r.all), /stopped waiting; the deploy goes on in the cluster/);
      const api = await json(['get', 'realtimeapi', 'big-gpu', '-n', NS]);
      assert.equal(api.spec.compute.gpu, 16, 'the deploy stays applied');
      await cortex(['delete', 'big-gpu', '-e', 'test', '-y']);
    } finally {
      rmSync(gpu, { recursive: true, force: true });
    }
  });

  test('delete removes the API, and the cluster removes its Deployment, Service, HPA and bundle', async () => {
    const r = await cortex(['delete', API, '-e', 'test', '-y']);
    assert.match(r.stdout, /deleted iris-classifier from test/);
    await waitFor(
      'everything of the API to be gone',
      async () => {
        const left = await json<{ items: Obj[] }>([
          'get',
          'deployments,services,horizontalpodautoscalers,replicasets,pods',
          '-n',
          NS,
          '-l',
          `cortex.dev/api=${API}`,
        ]);
        return left.items.length === 0 && (await bundles()).length === 0;
      },
      90_000,
    );
    const missing = await cli.cortex(['get', API, '-e', 'test'], { cwd: dir });
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /no API named iris-classifier in namespace ml of test: nothing is deployed there/);
  });
});
