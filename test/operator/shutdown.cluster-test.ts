// SIGTERM while a reconcile hangs on the API server: the operator process (bin/cortex-operator)
// talks to the real kube-apiserver through a loopback proxy that passes everything on (lists,
// watches, status writes) except the writes of Deployments, which it holds unanswered, as a
// hung API server would. The operator must abort that request and exit cleanly within its
// manager's grace period (10 s) instead of waiting for the request's own 30 s timeout.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import type { Cluster } from '../cluster/cluster.ts';
import { OPERATOR_USER } from '../helpers/identity.ts';
import { startTestCluster } from '../helpers/test-cluster.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { waitFor } from '../helpers/wait.ts';

const BUILD_TIMEOUT_MS = 60 * 60_000;
const NS = 'ml';
const GRACE_MS = 10_000; // operator/main.ts: the manager's gracePeriodMs

interface Held {
  method: string;
  url: string;
  /** Set when the operator closed the connection (it gave up on the request). */
  closedAt?: number;
}

/** An HTTP proxy to the API server with the admin's client certificate; `hold` picks the requests left hanging. */
async function hangingProxy(cluster: Cluster, hold: (req: IncomingMessage) => boolean) {
  const pki = path.join(cluster.stateDir, 'pki');
  const tls = {
    ca: readFileSync(path.join(pki, 'ca.crt')),
    cert: readFileSync(path.join(pki, 'admin.crt')),
    key: readFileSync(path.join(pki, 'admin.key')),
  };
  const upstream = new URL(cluster.server);
  const held: Held[] = [];
  const server = http.createServer((req, res) => {
    if (hold(req)) {
      const h: Held = { method: req.method ?? '', url: req.url ?? '' };
      held.push(h);
      res.on('close', () => (h.closedAt = Date.now()));
      return;
    }
    const headers = { ...req.headers, host: upstream.host };
    const out = https.request(
      { ...tls, host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    res.on('close', () => out.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

describe('cortex-operator stops on SIGTERM while a reconcile hangs on the API server', { concurrency: false }, () => {
  let dir: string;
  let cluster: Cluster;
  let proxy: Awaited<ReturnType<typeof hangingProxy>>;
  let operator: OperatorProcess | undefined;

  before(
    async () => {
      let poolsFile: string;
      ({ dir, poolsFile, cluster } = await startTestCluster('cortex-shutdown-cluster-test', NS));
      const deploymentWrite = (req: IncomingMessage) =>
        req.method !== 'GET' && (req.url ?? '').startsWith(`/apis/apps/v1/namespaces/${NS}/deployments`);
      proxy = await hangingProxy(cluster, deploymentWrite);
      // the operator's identity (impersonated by the proxy's admin certificate) through the proxy
      const kubeconfig = path.join(dir, 'through-proxy.kubeconfig');
      writeFileSync(
        kubeconfig,
        stringify({
          apiVersion: 'v1',
          kind: 'Config',
          // client-node refuses plain HTTP unless told to skip TLS verification
          clusters: [{ name: 'proxy', cluster: { server: proxy.url, 'insecure-skip-tls-verify': true } }],
          users: [{ name: 'operator', user: { as: OPERATOR_USER } }],
          contexts: [{ name: 'proxy', context: { cluster: 'proxy', user: 'operator' } }],
          'current-context': 'proxy',
        }),
      );
      operator = await startOperator(cluster, dir, {
        nodePoolsFile: poolsFile,
        extraArgs: ['--kubeconfig', kubeconfig, '--log-level', 'debug'],
      });
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    await operator?.stop();
    if (process.exitCode || process.env.CORTEX_TEST_OPERATOR_LOG) {
      process.stderr.write(`--- operator log (last 60 lines) ---\n${operator?.logs.slice(-60).join('\n')}\n`);
    }
    proxy?.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test(
    'the hung Deployment write is aborted and the process exits 0 within the grace period, ' +
      'long before the request would time out',
    { timeout: 120_000 },
    async () => {
      const op = operator!;
      await cluster.kubectl(['apply', '--server-side', '--field-manager=test', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'cortex.dev/v1alpha1',
          kind: 'RealtimeAPI',
          metadata: { name: 'iris', namespace: NS },
          spec: { predictor: { type: 'python', path: 'predictor.py', image: 'example.invalid/iris:1' } },
        }),
      });
      await waitFor('a reconcile to hang on a Deployment write', async () => proxy.held.length > 0);
      const [hung] = proxy.held;
      assert.equal(hung.closedAt, undefined, 'the request is still waiting for its answer');

      const signalled = Date.now();
      process.kill(op.proc.pid!, 'SIGTERM'); // not proc.kill(): execa would send SIGKILL after 5 s
      const result = await op.proc;
      const took = Date.now() - signalled;
      operator = undefined; // stopped: nothing left for after()

      assert.equal(result.exitCode, 0, `a clean stop; its log:\n${op.logs.slice(-20).join('\n')}`);
      assert.ok(took < GRACE_MS, `exited ${took} ms after SIGTERM (grace period ${GRACE_MS} ms)`);
      assert.ok(hung.closedAt !== undefined, `${hung.method} ${hung.url} was aborted by the operator`);
      assert.ok(hung.closedAt - signalled < GRACE_MS, 'aborted by the stop, not by its 30 s timeout');
      assert.ok(
        op.logs.some((l) => l.includes('"stopping"') && l.includes('SIGTERM')),
        'it logged why it stopped',
      );
    },
  );
});
