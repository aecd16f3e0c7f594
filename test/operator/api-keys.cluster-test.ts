// networking.auth: api_key on the test control plane (kube-apiserver, controller-manager,
// scheduler, kwok nodes with loopback pod IPs): the operator as a local process under its declared
// RBAC (its activator on 127.0.0.1), the CLI as a user bound to exactly the CLI's rules, and each
// Running pod's own `cortex serve` command run here (test/autoscaling/runtimes.ts, fromPod).
//
// There is no kubelet, so a stand-in does its one job here: it keeps the folder mounted as the
// keys Secret in step with the Secret (a watch, files written and renamed into place). What it
// cannot show is the kubelet's own delay (its sync period, about a minute): docs/auth.md states
// it; this test measures everything after it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpMethod, KubeConfig } from '@kubernetes/client-node';
import { cliUserRules } from '../../cli/cluster/rbac.ts';
import { Informer, listerWatcher } from '../../operator/controller/informer.ts';
import { KubeClient, type KubeObject } from '../../operator/kube/client.ts';
import { SECRETS } from '../../operator/kube/resources.ts';
import { API_KEYS_DIR_ENV, API_KEYS_LABEL, apiKeysSecretName } from '../../operator/reconcilers/api-keys.ts';
import { RUNTIME_PORT } from '../../operator/reconcilers/deployment.ts';
import { mergeRules } from '../../operator/rbac.ts';
import { hashKey, keyId } from '../../operator/auth/keys.ts';
import { LOOPBACK_POD_CIDR, startCluster, type Cluster } from '../cluster/cluster.ts';
import { freePort } from '../cluster/ports.ts';
import { kubeconfigAs } from '../helpers/identity.ts';
import { localEnv, type LocalEnv } from '../helpers/local.ts';
import { loopbackScalingArgs, startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { waitFor } from '../helpers/wait.ts';
import { PodRuntimes } from '../autoscaling/runtimes.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUILD_TIMEOUT_MS = 60 * 60_000;
const NS = 'keys';
const API = 'slow';
const USER = 'alice';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from the API server
type Obj = any;
type Secret = KubeObject & { data?: Record<string, string> };

describe(
  'API keys in a cluster: the CLI writes the Secret, replicas and the activator check it',
  { concurrency: false },
  () => {
    let dir: string;
    let cluster: Cluster;
    let client: KubeClient;
    let operator: OperatorProcess | undefined;
    let runtimes: PodRuntimes | undefined;
    let kubelet: Informer<Secret> | undefined;
    let cli: LocalEnv | undefined;
    let activatorPort: number;
    const mounted = (secret: string) => path.join(dir, 'secrets', secret);

    const cortex = async (args: string[], expectCode = 0) => {
      const r = await cli!.cortex([...args, '-e', 'test'], { cwd: dir });
      assert.equal(r.code, expectCode, `cortex ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
      return r;
    };
    const get = (p: string): Promise<Obj> => client.request(HttpMethod.GET, p);
    const post = async (url: string, key?: string, headers: Record<string, string> = {}) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...headers,
          ...(key !== undefined ? { authorization: `Bearer ${key}` } : {}),
        },
        body: '{"sleep_ms": 1}',
        signal: AbortSignal.timeout(30_000),
      });
      await res.arrayBuffer();
      return res.status;
    };
    const replica = (key?: string) => post(`http://${runtimes!.readyIps()[0]}:${RUNTIME_PORT}/`, key);
    const activator = (key?: string) =>
      post(`http://127.0.0.1:${activatorPort}/`, key, { 'x-cortex-api': `${NS}/${API}` });

    /** What the kubelet does for a mounted Secret: its entries as files, replaced as it changes. */
    function syncSecret(s: Secret, gone = false): void {
      const folder = mounted(s.metadata!.name!);
      mkdirSync(folder, { recursive: true });
      const data = gone ? {} : (s.data ?? {});
      for (const [name, value] of Object.entries(data)) {
        writeFileSync(path.join(folder, `.${name}.tmp`), Buffer.from(value, 'base64'));
        renameSync(path.join(folder, `.${name}.tmp`), path.join(folder, name));
      }
      for (const name of readdirSync(folder)) if (!(name in data)) rmSync(path.join(folder, name), { force: true });
    }

    before(
      async () => {
        dir = mkdtempSync(path.join(tmpdir(), 'cortex-api-keys-test-'));
        const poolsFile = path.join(dir, 'node-pools.yaml');
        cluster = await startCluster({
          stateDir: path.join(dir, 'state'),
          nodePoolsFile: poolsFile,
          podCidr: LOOPBACK_POD_CIDR,
        });
        await cluster.kubectl(['create', 'namespace', NS]);
        activatorPort = await freePort();
        operator = await startOperator(cluster, dir, {
          nodePoolsFile: poolsFile,
          extraArgs: await loopbackScalingArgs(activatorPort, '5s'),
        });
        const kc = new KubeConfig();
        kc.loadFromFile(cluster.kubeconfig);
        client = new KubeClient(kc);
        kubelet = new Informer<Secret>({
          name: 'kubelet stand-in',
          source: listerWatcher(client, SECRETS, NS, { labelSelector: API_KEYS_LABEL }),
          resyncMs: 0,
        });
        kubelet
          .on('add', (s) => syncSecret(s))
          .on('update', (s) => syncSecret(s))
          .on('delete', (s) => syncSecret(s, true));
        kubelet.start();
        runtimes = new PodRuntimes({
          client,
          namespace: NS,
          api: API,
          project: path.join(here, '..', 'autoscaling', 'fixtures', 'slow'),
          tmpDir: dir,
          fromPod: true,
          secrets: (name) => {
            mkdirSync(mounted(name), { recursive: true }); // an optional Secret not made yet: an empty folder
            return mounted(name);
          },
        });
        await runtimes.start();
        // the CLI as a person bound to exactly the CLI's declared rules
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
        cli = await localEnv();
        const userKubeconfig = kubeconfigAs(cluster, USER, path.join(dir, 'alice.kubeconfig'));
        const r = await cli.cortex(['env', 'configure', 'test', '--kubeconfig', userKubeconfig, '--namespace', NS], {
          cwd: dir,
        });
        assert.equal(r.code, 0, r.stderr);
      },
      { timeout: BUILD_TIMEOUT_MS },
    );

    after(async () => {
      await runtimes?.stop();
      await kubelet?.stop();
      await operator?.stop();
      if (process.exitCode) {
        process.stderr.write(`--- operator log (last 80 lines) ---\n${operator?.logs.slice(-80).join('\n')}\n`);
        process.stderr.write(`--- runtimes log (last 40 lines) ---\n${runtimes?.log.slice(-40).join('\n')}\n`);
      }
      await cli?.cleanup();
      await cluster?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('a key for a missing API is refused and writes nothing', async () => {
      const r = await cortex(['api-key', 'create', '--api', API], 3);
      assert.match(r.stderr, new RegExp(`no API named ${API} in namespace ${NS}`));
      assert.equal(r.stdout, '');
      const secrets = await get(`/api/v1/namespaces/${NS}/secrets?labelSelector=${API_KEYS_LABEL}`);
      assert.deepEqual(secrets.items, []);
    });

    test('the API server refuses an unknown auth mode (the CRD schema): nothing is stored', async () => {
      const bad = JSON.stringify({
        apiVersion: 'cortex.dev/v1alpha1',
        kind: 'RealtimeAPI',
        metadata: { name: 'typo', namespace: NS },
        spec: { predictor: { type: 'typescript', path: 'predictor.ts' }, networking: { auth: 'apikey' } },
      });
      await assert.rejects(
        cluster.kubectl(['apply', '--server-side', '--field-manager=test', '-f', '-'], { input: bad }),
        /spec\.networking\.auth: Unsupported value: "apikey": supported values: "none", "api_key"/,
      );
      const list = await get(`/apis/cortex.dev/v1alpha1/namespaces/${NS}/realtimeapis`);
      assert.deepEqual(list.items, []);
    });

    test(
      'auth: api_key: the replica mounts the keys Secret and refuses every request until a key exists',
      { timeout: 5 * 60_000 },
      async () => {
        await cluster.kubectl(['apply', '--server-side', '--field-manager=test', '-f', '-'], {
          input: JSON.stringify({
            apiVersion: 'cortex.dev/v1alpha1',
            kind: 'RealtimeAPI',
            metadata: { name: API, namespace: NS },
            spec: {
              predictor: { type: 'typescript', path: 'predictor.ts', image: 'fake.invalid/slow:1' },
              compute: { cpu: '100m' },
              networking: { auth: 'api_key' },
            },
          }),
        });
        const d = await waitFor('the Deployment', async () => {
          try {
            return await get(`/apis/apps/v1/namespaces/${NS}/deployments/${API}`);
          } catch {
            return undefined;
          }
        });
        const pod = d.spec.template.spec;
        assert.deepEqual(pod.volumes.find((v: Obj) => v.name === 'api-keys').secret, {
          secretName: apiKeysSecretName(API),
          optional: true,
          defaultMode: 0o444,
        });
        assert.ok(pod.containers[0].env.some((e: Obj) => e.name === API_KEYS_DIR_ENV));
        await waitFor('a ready replica', async () => runtimes!.readyIps().length > 0, 4 * 60_000);
        assert.equal(await replica(), 401);
        assert.equal(await activator(), 401);
      },
    );

    let key = '';
    test('api-key create writes a hashed entry to the Secret; replica and activator accept the key', async () => {
      const r = await cortex(['api-key', 'create', '--api', API, '--name', 'ci', '--requests-per-second', '50']);
      key = r.stdout.trim();
      assert.equal(keyId(key), 'ci');
      const secret = await get(`/api/v1/namespaces/${NS}/secrets/${apiKeysSecretName(API)}`);
      assert.equal(secret.metadata.labels[API_KEYS_LABEL], API);
      assert.equal(secret.metadata.ownerReferences[0].kind, 'RealtimeAPI');
      const entry = JSON.parse(Buffer.from(secret.data.ci, 'base64').toString());
      assert.equal(entry.sha256, hashKey(key));
      assert.ok(!JSON.stringify(secret).includes(key.slice(-43)), 'the key is not in the Secret');
      await waitFor('the replica accepts the key', async () => (await replica(key)) === 200, 10_000);
      await waitFor('the activator accepts the key', async () => (await activator(key)) === 200, 10_000);
      assert.equal(await replica(key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A')), 401);
      const list = await cortex(['api-key', 'list', '--api', API, '-o', 'json']);
      assert.deepEqual(
        (JSON.parse(list.stdout) as { keys: { name: string }[] }).keys.map((k) => k.name),
        ['ci'],
      );
    });

    test('api-key revoke: the activator refuses the key within 2 s, a replica within 3 s of its mount', async () => {
      const rotated = (await cortex(['api-key', 'create', '--api', API, '--name', 'ci-2'])).stdout.trim();
      await cortex(['api-key', 'revoke', 'ci', '--api', API]);
      const at = Date.now();
      await waitFor('the activator refuses the revoked key', async () => (await activator(key)) === 401, 2000);
      const activatorMs = Date.now() - at;
      await waitFor('the replica refuses the revoked key', async () => (await replica(key)) === 401, 3000);
      process.stderr.write(`revoke took effect: activator ${activatorMs} ms, replica ${Date.now() - at} ms\n`);
      await waitFor('the rotated key works', async () => (await replica(rotated)) === 200, 3000);
      assert.equal(await activator(rotated), 200);
      const metrics = await (await fetch(`http://${runtimes!.readyIps()[0]}:${RUNTIME_PORT}/metrics`)).text();
      assert.match(metrics, /cortex_api_key_requests_total\{api="slow",api_key="ci",result="allowed"\}/);
      assert.ok(!metrics.includes(key.slice(-43)) && !runtimes!.log.join('\n').includes(key.slice(-43)));
      assert.ok(!operator!.logs.join('\n').includes(key.slice(-43)), 'no key in the operator log');
    });
  },
);
