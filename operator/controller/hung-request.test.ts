// A hung API server against the real client, queue and manager: a loopback server that accepts
// requests and never answers. A request gives up at its timeout and the key is retried; a stop
// during such a reconcile aborts it instead of waiting for the timeout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient, RequestTimeoutError } from '../kube/client.ts';
import { PODS } from '../kube/resources.ts';
import { Manager, startStop } from '../manager/manager.ts';
import { silentLogger } from '../util/log.ts';
import { WorkQueue, runWorkers } from './queue.ts';
import { Informer, listerWatcher } from './informer.ts';

let server: Server;
let url: string;
let received = 0;

before(async () => {
  server = createServer(() => void received++); // reads the request, never answers
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

function client(timeoutMs?: number, server = url): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return new KubeClient(kc, { timeoutMs });
}

test('a request that is never answered fails at its timeout, and the queue retries the key', async () => {
  const kube = client(200);
  const queue = new WorkQueue({ backoff: { baseMs: 50, maxMs: 50, jitter: 0 } });
  const attempts: number[] = [];
  const errors: unknown[] = [];
  const start = Date.now();
  const stopper = new AbortController();
  const workers = runWorkers(queue, {
    workers: 1,
    signal: stopper.signal,
    reconcile: async (key, signal) => {
      attempts.push(Date.now() - start);
      await kube.get(PODS, 'ml', key, { signal });
    },
    onError: (_key, error) => {
      errors.push(error);
      if (errors.length === 2) stopper.abort();
    },
  });
  queue.add('iris');
  await workers;
  assert.equal(attempts.length, 2, 'retried once the first attempt timed out');
  assert.ok(errors[0] instanceof RequestTimeoutError, String(errors[0]));
  assert.match(String(errors[0]), /GET \/api\/v1\/namespaces\/ml\/pods\/iris: no answer within 200 ms/);
  // the second attempt starts after the timeout plus the backoff, not long after
  assert.ok(attempts[1] >= 240 && attempts[1] < 2000, `second attempt after ${attempts[1]} ms`);
  assert.ok(received >= 2);
});

test('a stop during a hung reconcile aborts it: far sooner than the request would time out', async () => {
  const kube = client(60_000);
  const queue = new WorkQueue();
  let inFlight!: () => void;
  const reconciling = new Promise<void>((resolve) => (inFlight = resolve));
  let aborted: unknown;
  const workers = {
    running: undefined as Promise<void> | undefined,
    stopper: new AbortController(),
    start() {
      this.running = runWorkers(queue, {
        workers: 2,
        signal: this.stopper.signal,
        reconcile: async (key, signal) => {
          inFlight();
          try {
            await kube.get(PODS, 'ml', key, { signal });
          } catch (error) {
            aborted = error;
            throw error;
          }
        },
      });
    },
    async stop() {
      this.stopper.abort(new Error('stopping'));
      await this.running;
    },
  };
  const manager = new Manager({ log: silentLogger, gracePeriodMs: 5_000 });
  manager.add(startStop('workers', true, workers));
  await manager.start();
  queue.add('iris');
  await reconciling;
  const start = Date.now();
  assert.equal(await manager.stop(), true, 'stopped within the grace period');
  assert.ok(Date.now() - start < 1_000, `stopped in ${Date.now() - start} ms`);
  assert.match(String(aborted), /stopping/);
});

test('a watch whose answer never comes is aborted by stop() and by the idle timeout (then started again)', async () => {
  // lists answer at once (empty); watches get no headers at all, as from a hung API server
  let watches = 0;
  const closed: number[] = [];
  const hung = createServer((req, res) => {
    if (req.url?.includes('watch=true')) {
      watches++;
      res.on('close', () => closed.push(Date.now()));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '7' }, items: [] }));
  });
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
  try {
    const hungUrl = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
    const informer = new Informer({
      name: 'pods',
      source: listerWatcher(client(undefined, hungUrl), PODS, 'ml'),
      idleTimeoutMs: 300,
      log: silentLogger,
    });
    informer.start();
    await informer.waitForSync();
    const waitFor = async (what: string, cond: () => boolean) => {
      for (const end = Date.now() + 5_000; !cond(); await new Promise((r) => setTimeout(r, 10))) {
        if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
      }
    };
    await waitFor('a second watch after the idle timeout', () => watches >= 2 && closed.length >= 1);
    const stopping = Date.now();
    await informer.stop();
    assert.ok(Date.now() - stopping < 1_000, `stopped in ${Date.now() - stopping} ms`);
    await waitFor('the last watch to be closed by the client', () => closed.length === watches);
  } finally {
    hung.closeAllConnections();
    hung.close();
  }
});
