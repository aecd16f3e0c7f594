// The scraper against real HTTP servers on loopback that serve what a replica serves (the
// runtime's own metrics registry), with pods and APIs from informers fed by hand.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Informer, type ListerWatcher } from '../controller/informer.ts';
import type { KubeObject, WatchEvent, WatchHandle } from '../kube/client.ts';
import { silentLogger } from '../util/log.ts';
import { RuntimeMetrics } from '../../runtime/metrics.ts';
import { SampleStore } from './samples.ts';
import { DEFAULT_WINDOW_MS, Scraper, scrapeTarget, type ApiObject, type PodObject } from './scraper.ts';

/** Lists `items`; the watch stays open and the test sends events through `send`. */
class HandSource<T extends KubeObject> implements ListerWatcher<T> {
  send: ((e: WatchEvent<T>) => void) | undefined;
  readonly items: T[];
  constructor(items: T[]) {
    this.items = items;
  }
  async list() {
    return { items: this.items, metadata: { resourceVersion: '1' } };
  }
  async watch(_o: unknown, onEvent: (e: WatchEvent<T>) => void): Promise<WatchHandle> {
    this.send = onEvent;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    return { abort: () => finish(), done };
  }
}

function readyPod(
  name: string,
  api: string,
  port: number,
  extra: Partial<{ ip: string; ready: boolean; phase: string; deleting: boolean }> = {},
): PodObject {
  return {
    metadata: {
      name,
      namespace: 'ml',
      resourceVersion: '1',
      labels: { 'cortex.dev/api': api },
      annotations: { 'prometheus.io/port': String(port), 'prometheus.io/path': '/metrics' },
      ...(extra.deleting ? { deletionTimestamp: '2030-01-01T00:00:00Z' } : {}),
    },
    status: {
      phase: extra.phase ?? 'Running',
      podIP: extra.ip ?? '127.0.0.1',
      conditions: [{ type: 'Ready', status: extra.ready === false ? 'False' : 'True' }],
    },
  } as PodObject;
}

describe('Scraper', () => {
  const replicas: {
    server: Server;
    port: number;
    inFlight: number;
    metrics: RuntimeMetrics;
    hits: number;
    answer?: string;
  }[] = [];

  before(async () => {
    for (let i = 0; i < 3; i++) {
      const r = {
        inFlight: 0,
        hits: 0,
        port: 0,
        server: undefined as unknown as Server,
        metrics: undefined as unknown as RuntimeMetrics,
        answer: undefined as string | undefined,
      };
      r.metrics = new RuntimeMetrics('iris', {
        inFlight: () => r.inFlight,
        queueLength: () => 0,
        workersReady: () => 1,
      });
      r.server = createServer((req, res) => {
        r.hits++;
        if (r.answer !== undefined) return void res.writeHead(200).end(r.answer);
        void r.metrics.render().then((t) => res.writeHead(200, { 'content-type': r.metrics.contentType() }).end(t));
      });
      await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
      r.port = (r.server.address() as AddressInfo).port;
      replicas.push(r);
    }
  });
  after(() => Promise.all(replicas.map((r) => new Promise((resolve) => r.server.close(resolve)))));

  test('only ready, running, not terminating pods with an IP are scraped, at the annotated port', () => {
    assert.equal(scrapeTarget(readyPod('a', 'iris', 9000))?.url, 'http://127.0.0.1:9000/metrics');
    assert.equal(scrapeTarget(readyPod('a', 'iris', 9000, { ip: 'fd00::1' }))?.url, 'http://[fd00::1]:9000/metrics');
    assert.equal(scrapeTarget(readyPod('a', 'iris', 9000, { ready: false })), undefined);
    assert.equal(scrapeTarget(readyPod('a', 'iris', 9000, { phase: 'Pending' })), undefined);
    assert.equal(scrapeTarget(readyPod('a', 'iris', 9000, { deleting: true })), undefined);
    assert.equal(scrapeTarget(readyPod('a', 'iris', 9000, { ip: '' })), undefined);
    const noAnnotations = readyPod('a', 'iris', 1);
    delete noAnnotations.metadata!.annotations;
    assert.equal(scrapeTarget(noAnnotations)?.url, 'http://127.0.0.1:8888/metrics', 'the runtime port by default');
  });

  test(
    "rounds record each pod's in-flight and request counts; " +
      'windows come from the API; deleted pods and APIs are forgotten',
    async () => {
      const [r0, r1, r2] = replicas;
      const pods = new HandSource<PodObject>([
        readyPod('iris-0', 'iris', r0.port),
        readyPod('iris-1', 'iris', r1.port),
        readyPod('iris-2', 'iris', r2.port, { ready: false }),
      ]);
      const api: ApiObject = {
        apiVersion: 'cortex.dev/v1alpha1',
        kind: 'RealtimeAPI',
        metadata: { name: 'iris', namespace: 'ml', uid: 'u', resourceVersion: '1' },
        spec: { autoscaling: { window: '20s' } },
      } as ApiObject;
      const apis = new HandSource<ApiObject>([api]);
      const podInf = new Informer<PodObject>({ name: 'pods', source: pods, resyncMs: 0 });
      const apiInf = new Informer<ApiObject>({ name: 'apis', source: apis, resyncMs: 0 });
      const store = new SampleStore();
      let now = Date.parse('2030-01-01T00:00:00Z');
      const results: string[] = [];
      const scraper = new Scraper({
        pods: podInf,
        apis: apiInf,
        store,
        log: silentLogger,
        now: () => now,
        onScrape: (r) => results.push(r),
      });
      podInf.start();
      apiInf.start();
      await Promise.all([podInf.waitForSync(), apiInf.waitForSync()]);
      try {
        assert.equal(scraper.windowMs('ml', 'iris'), 20_000);
        assert.equal(scraper.windowMs('ml', 'unknown'), DEFAULT_WINDOW_MS);

        r0.inFlight = 4;
        r1.inFlight = 1;
        r0.metrics.observeRequest(200, 0.1);
        for (let i = 0; i < 3; i++) {
          await scraper.round();
          now += 1000;
        }
        assert.equal(r2.hits, 0, 'a pod that is not ready is not scraped');
        assert.equal(store.average('ml', 'iris-0', 20_000, now)?.value, 4);
        assert.equal(store.average('ml', 'iris-1', 20_000, now)?.samples, 3);
        r0.inFlight = 0;
        await scraper.round();
        assert.equal(store.average('ml', 'iris-0', 20_000, now)?.value, 3, '(4+4+4+0)/4');
        assert.deepEqual(
          store.activity('ml', 'iris')?.pods.map((p) => [p.name, p.requestsTotal]),
          [
            ['iris-0', 1],
            ['iris-1', 0],
          ],
        );
        assert.deepEqual(results, Array(8).fill('success'));

        // a replica answering something else: a failed scrape, no sample
        r1.answer = '<html>proxy error</html>';
        now += 1000;
        await scraper.round();
        assert.equal(results.at(-1), 'error');
        assert.equal(store.average('ml', 'iris-1', 20_000, now)?.samples, 4, 'the failed scrape added nothing');
        r1.answer = undefined;

        pods.send!({ type: 'DELETED', object: readyPod('iris-1', 'iris', r1.port) });
        assert.equal(store.has('ml', 'iris-1'), false, "a deleted pod's samples go at once");
        pods.send!({
          type: 'MODIFIED',
          object: {
            ...readyPod('iris-0', 'iris', r0.port, { deleting: true }),
            metadata: { ...readyPod('iris-0', 'iris', r0.port, { deleting: true }).metadata, resourceVersion: '2' },
          },
        });
        assert.equal(store.has('ml', 'iris-0'), false, 'a terminating pod is no longer counted');
        const hits = r0.hits;
        await scraper.round();
        assert.equal(r0.hits, hits, 'nor scraped');
        apis.send!({ type: 'DELETED', object: api });
        assert.equal(store.activity('ml', 'iris'), undefined);
      } finally {
        await scraper.stop();
        await Promise.all([podInf.stop(), apiInf.stop()]);
      }
    },
  );

  test('a replica that does not answer within the timeout fails alone; the others are scraped meanwhile', async () => {
    const hang = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    const hangPort = (hang.address() as AddressInfo).port;
    const podInf = new Informer<PodObject>({
      name: 'pods',
      source: new HandSource([readyPod('stuck', 'iris', hangPort), readyPod('fine', 'iris', replicas[0].port)]),
      resyncMs: 0,
    });
    const apiInf = new Informer<ApiObject>({ name: 'apis', source: new HandSource<ApiObject>([]), resyncMs: 0 });
    const store = new SampleStore();
    const results: string[] = [];
    const scraper = new Scraper({
      pods: podInf,
      apis: apiInf,
      store,
      log: silentLogger,
      timeoutMs: 300,
      onScrape: (r) => results.push(r),
    });
    podInf.start();
    apiInf.start();
    await podInf.waitForSync();
    try {
      const t = Date.now();
      await scraper.round();
      assert.ok(Date.now() - t < 2000, 'the round ends at the timeout');
      assert.deepEqual(results.sort(), ['error', 'success']);
      assert.equal(store.has('ml', 'fine'), true);
      assert.equal(store.has('ml', 'stuck'), false);
    } finally {
      await scraper.stop();
      await Promise.all([podInf.stop(), apiInf.stop()]);
      hang.closeAllConnections();
      hang.close();
    }
  });
});
