// A Cortex 0.35 project (a handler: section, a Handler class) on the cluster path, on the real
// control plane of test/cluster: `cortex render` makes the manifests `cortex deploy` would apply,
// kubectl applies them, the operator (a local process under its RBAC) makes the Deployment, and
// each Running pod's own command and env run as a local `cortex serve` (test/helpers/pod-process.ts),
// with /mnt/project holding the bundle unpacked from the ConfigMaps the API server has, as the
// pod's init container would. The replica must run the Handler: handle_get, handle_post with its
// callback, handle_put, the .env variables (carried in the spec, never in the bundle).
// Not part of `npm test`: `npm run test:cluster`.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { execa } from 'execa';
import { LOOPBACK_POD_CIDR, type Cluster } from '../cluster/cluster.ts';
import { PodRuntimes, loopbackOnly } from '../autoscaling/runtimes.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { cortexBin } from '../helpers/serve.ts';
import { startTestCluster } from '../helpers/test-cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import { KubeClient } from '../../operator/kube/client.ts';
import { BUNDLE_KEY } from '../../operator/api/v1alpha1/realtimeapi-types.ts';
import { RUNTIME_PORT } from '../../operator/reconcilers/deployment.ts';
import { fixture } from './era-project.ts';

const BUILD_TIMEOUT_MS = 60 * 60_000;
const NS = 'eras';
const API = 'notes';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from kubectl, read field by field
type Obj = any;

describe('a Cortex 0.35 Handler project deployed to a cluster', { concurrency: false }, () => {
  let dir: string;
  let cluster: Cluster;
  let operator: OperatorProcess | undefined;
  let runtimes: PodRuntimes | undefined;

  before(
    async () => {
      const started = await startTestCluster('cortex-eras-handler', NS, { podCidr: LOOPBACK_POD_CIDR });
      ({ dir, cluster } = started);
      operator = await startOperator(cluster, dir, { nodePoolsFile: started.poolsFile });
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    await runtimes?.stop();
    await operator?.stop();
    if (process.exitCode) {
      process.stderr.write(`--- operator log (last 60 lines) ---\n${operator?.logs.slice(-60).join('\n')}\n`);
      process.stderr.write(`--- replica log ---\n${runtimes?.log.slice(-40).join('\n')}\n`);
    }
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the RealtimeAPI runs the Handler: its verbs, its callback and its .env', { timeout: 5 * 60_000 }, async () => {
    const rendered = await execa(process.execPath, [cortexBin, 'render', fixture('v0_35', API), '-n', NS], {
      env: { NO_COLOR: '1' },
    });
    await cluster.kubectl(['apply', '-f', '-'], { input: rendered.stdout });
    const api: Obj = await cluster.kubectl.json(['get', 'realtimeapi', API, '-n', NS, '-o', 'json']);
    assert.equal(api.spec.predictor.path, 'handler.py', 'the handler section is the predictor section');
    assert.deepEqual(api.spec.predictor.env, {
      NOTES_OWNER: 'from-dotenv',
      NOTES_SECRET: 's3cret',
    });

    // /mnt/project: the bundle as the API server has it, unpacked as the init container would
    const project = path.join(dir, 'project');
    mkdirSync(project);
    const chunks: Buffer[] = [];
    for (const name of api.spec.predictor.bundle.configMaps as string[]) {
      const cm: Obj = await cluster.kubectl.json(['get', 'configmap', name, '-n', NS, '-o', 'json']);
      chunks.push(Buffer.from(cm.binaryData[BUNDLE_KEY], 'base64'));
    }
    await execa('tar', ['-xzf', '-', '-C', project], { input: Buffer.concat(chunks) });

    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    runtimes = new PodRuntimes({
      client: new KubeClient(kc),
      namespace: NS,
      api: API,
      project,
      tmpDir: dir,
      fromPod: true,
    });
    await runtimes.start();
    await waitFor('a ready replica', async () => runtimes!.readyTimes.length >= 1, 4 * 60_000);
    const base = `http://${loopbackOnly(runtimes.readyIps()[0])}:${RUNTIME_PORT}`;

    const created = await fetch(`${base}/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'from the cluster' }),
    });
    assert.deepEqual([created.status, await created.json()], [200, { id: '1' }]);
    const notes = await waitFor(
      'the callback to have run',
      async () => {
        const all = (await (await fetch(`${base}/`)).json()) as { callbacks: string[] };
        return all.callbacks.length === 1 && all;
      },
      10_000,
    );
    assert.deepEqual(notes, {
      notes: { 1: 'note: from the cluster' },
      callbacks: ['1'],
      owner: 'from-dotenv',
      secret: 's3cret',
      drafts_deployed: false,
    });
    const put = await fetch(`${base}/?id=1`, { method: 'PUT', headers: { 'Content-Type': 'text/plain' }, body: 'x' });
    assert.deepEqual(
      [put.status, put.headers.get('content-type'), await put.text()],
      [200, 'application/octet-stream', 'updated'],
    );
    const patch = await fetch(`${base}/`, { method: 'PATCH', body: '{}' });
    assert.equal(patch.status, 405);
  });
});
