// `cortex logs` against a cluster environment: the API server's pod log endpoint, proxied to
// the node's kubelet port — here kwok's server on 127.0.0.1, which serves every `api` container's
// log from one file in the CRI log format (kwok ClusterLogs). The pods run nothing, so what
// they "log" is what the test writes to that file.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { freePort, localEnv, type LocalEnv } from '../helpers/local.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { cortexBin } from '../helpers/serve.ts';
import { waitFor } from '../helpers/wait.ts';

const BUILD_TIMEOUT_MS = 60 * 60_000;
const NS = 'ml';
const API = 'iris-classifier';

/** One line as a container runtime writes it (what the kubelet, here kwok, serves). */
const criLine = (message: string, at = new Date()) =>
  `${at.toISOString().replace('Z', '000000Z')} stdout F {"message":"${message}"}\n`;

describe('cortex logs from a cluster environment', { concurrency: false }, () => {
  let dir: string;
  let logFile: string;
  let cluster: Cluster;
  let operator: OperatorProcess;
  let cli: LocalEnv;

  const pods = async (): Promise<string[]> =>
    (
      await cluster.kubectl.json<{ items: { metadata: { name: string }; status: { phase: string } }[] }>([
        'get',
        'pods',
        '-n',
        NS,
        '-l',
        `cortex.dev/api=${API}`,
      ])
    ).items
      .filter((p) => p.status.phase === 'Running')
      .map((p) => p.metadata.name)
      .sort();

  before(
    async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'cortex-cluster-logs-'));
      logFile = path.join(dir, 'api.log');
      writeFileSync(
        logFile,
        criLine('line one', new Date('2026-11-25T14:00:00Z')) + criLine('line two', new Date('2026-11-25T14:00:01Z')),
      );
      const kwokConfig = path.join(dir, 'kwok.yaml');
      writeFileSync(
        kwokConfig,
        [
          'apiVersion: config.kwok.x-k8s.io/v1alpha1',
          'kind: KwokConfiguration',
          'options: {}',
          '---',
          'apiVersion: kwok.x-k8s.io/v1alpha1',
          'kind: ClusterLogs',
          'metadata: {name: api-logs}',
          'spec:',
          `  selector: {matchNamespaces: [${NS}]}`,
          '  logs:',
          `  - {containers: [api], logsFile: ${JSON.stringify(logFile)}, follow: true}`,
          '',
        ].join('\n'),
      );
      const kubeletPort = await freePort();
      const nodePoolsFile = path.join(dir, 'node-pools.yaml');
      cluster = await startCluster({
        stateDir: path.join(dir, 'state'),
        nodePoolsFile,
        extraArgs: {
          kwok: [`--server-address=127.0.0.1:${kubeletPort}`, `--node-port=${kubeletPort}`, `--config=${kwokConfig}`],
          // kwok nodes' InternalIP is 127.0.0.1; their Hostname resolves nowhere
          'kube-apiserver': ['--kubelet-preferred-address-types=InternalIP'],
        },
      });
      await cluster.kubectl(['create', 'namespace', NS]);
      operator = await startOperator(cluster, dir, { nodePoolsFile });
      cli = await localEnv();
      assert.equal(
        (await cli.cortex(['env', 'configure', 'test', '--kubeconfig', cluster.kubeconfig, '--namespace', NS])).code,
        0,
      );
      const deployed = await cli.cortex(['deploy', 'examples/iris-classifier', '-e', 'test', '--wait']);
      assert.equal(deployed.code, 0, deployed.stderr);
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    await operator?.stop();
    await cli?.cleanup();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("logs prints every replica's lines, prefixed with its pod; --pod one pod's, bare", async () => {
    const [pod] = await pods();
    const r = await cli.cortex(['logs', API, '-e', 'test']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      `[${pod}] {"message":"line one"}`,
      `[${pod}] {"message":"line two"}`,
    ]);
    const one = await cli.cortex(['logs', API, '-e', 'test', '--pod', pod, '--tail', '1']);
    assert.equal(one.stdout.trim(), '{"message":"line two"}');
  });

  test('logs -f follows new lines and picks up a replica that starts later', async () => {
    const proc = execa(process.execPath, [cortexBin, 'logs', API, '-e', 'test', '-f'], {
      env: { ...process.env, ...cli.env },
      reject: false,
      buffer: true,
    });
    let out = '';
    proc.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    try {
      const [first] = await pods();
      await waitFor('the existing lines', async () => out.includes(`[${first}] {"message":"line two"}`), 30_000);
      appendFileSync(logFile, criLine('line three'));
      await waitFor(
        'a line written after the start',
        async () => out.includes(`[${first}] {"message":"line three"}`),
        30_000,
      );
      await cluster.kubectl(['scale', 'deployment', API, '-n', NS, '--replicas=2']);
      const second = await waitFor('a second pod', async () => (await pods()).find((p) => p !== first), 60_000);
      await waitFor("the new pod's lines", async () => out.includes(`[${second}] {"message":"line three"}`), 30_000);
      assert.equal(
        out.split('\n').filter((l) => l === `[${first}] {"message":"line three"}`).length,
        1,
        'nothing printed twice',
      );
    } finally {
      proc.kill('SIGINT');
      const r = await proc;
      assert.ok(r.exitCode === 0 || r.signal === 'SIGINT', `logs -f ended with ${r.exitCode ?? r.signal}: ${r.stderr}`);
    }
  });
});
