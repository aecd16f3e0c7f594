// The reconcile loop against an in-memory stand-in for the API server: which requests it makes,
// with which field managers, and what status it writes. (test/operator/reconcile.cluster-test.ts
// runs the same against a real control plane.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { KubeError, type KubeClient, type KubeObject, type ResourceType, type WatchHandle } from './kube/client.ts';
import { REALTIME_APIS as REALTIMEAPIS, SERVICES } from './kube/resources.ts';
import { RealtimeApiController } from './realtimeapi-controller.ts';
import { parseRuntimeSpec } from './reconcilers/runtime-spec.ts';
import { silentLogger } from './util/log.ts';
import type { NodePoolSource } from './node-pools-source.ts';
import type { NodePools } from './node-pools.ts';
import { createMetrics, type OperatorMetrics } from './metrics.ts';
import type { V1Deployment } from '@kubernetes/client-node';
import type { EventRecorder } from './events.ts';

interface Call {
  verb: string;
  kind: string;
  name?: string;
  fieldManager?: string;
  subresource?: string;
  body?: KubeObject;
}

/** Objects by "plural/namespace/name"; list/watch serve them, get/create/apply record calls. */
class FakeKube {
  objects = new Map<string, KubeObject>();
  calls: Call[] = [];
  failApply: ((r: ResourceType) => KubeError | undefined) | undefined;
  /** Applies never answer: they wait for the request's signal to abort. */
  hangApply = false;
  private rv = 100;

  put(r: ResourceType, obj: KubeObject): void {
    this.objects.set(`${r.plural}/${obj.metadata?.namespace}/${obj.metadata?.name}`, obj);
  }

  async list(r: ResourceType) {
    const items = [...this.objects.entries()].filter(([k]) => k.startsWith(`${r.plural}/`)).map(([, v]) => v);
    return { items, metadata: { resourceVersion: String(this.rv) } };
  }

  async watch(): Promise<WatchHandle> {
    let end!: () => void;
    const done = new Promise<void>((resolve) => (end = resolve));
    return { abort: () => end(), done };
  }

  async get(r: ResourceType, ns: string, name: string) {
    this.calls.push({ verb: 'get', kind: r.kind, name });
    const o = this.objects.get(`${r.plural}/${ns}/${name}`);
    if (!o) throw new KubeError('GET', name, 404, '{"reason":"NotFound","message":"not found"}');
    return o;
  }

  async create(r: ResourceType, obj: KubeObject, fieldManager: string) {
    this.calls.push({ verb: 'create', kind: r.kind, name: obj.metadata?.name, fieldManager, body: obj });
    const created = { ...obj, metadata: { ...obj.metadata, generation: 1, resourceVersion: String(++this.rv) } };
    this.put(r, created);
    return created;
  }

  async apply(
    r: ResourceType,
    obj: KubeObject,
    options: { fieldManager: string; subresource?: string; signal?: AbortSignal },
  ) {
    this.calls.push({
      verb: 'apply',
      kind: r.kind,
      name: obj.metadata?.name,
      fieldManager: options.fieldManager,
      subresource: options.subresource,
      body: obj,
    });
    const err = this.failApply?.(r);
    if (err) throw err;
    if (this.hangApply) {
      await new Promise((_resolve, reject) =>
        options.signal?.addEventListener('abort', () => reject(options.signal?.reason as Error)),
      );
    }
    return {
      ...obj,
      metadata: { ...obj.metadata, generation: 2 },
      status: { observedGeneration: 1, replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1 },
    };
  }
}

const noPools: NodePoolSource = {
  current: (): NodePools => ({ pools: [], source: '' }),
  start: async () => {},
  stop: async () => {},
};

function apiObject(name: string, spec: object, status?: object): KubeObject {
  return {
    apiVersion: 'cortex.dev/v1alpha1',
    kind: 'RealtimeAPI',
    metadata: { name, namespace: 'ml', uid: `uid-${name}`, generation: 1, resourceVersion: '5' },
    spec: { predictor: { type: 'python', path: 'p.py', image: 'img:1' }, ...spec },
    status,
  };
}

async function run(
  fake: FakeKube,
  body: (c: RealtimeApiController) => Promise<void>,
  extra: { metrics?: OperatorMetrics; events?: EventRecorder; queueUrl?: string } = {},
): Promise<void> {
  const c = new RealtimeApiController({
    ...extra,
    client: fake as unknown as KubeClient,
    config: { runtimeImage: 'rt:1', hpaTolerance: false, clusterDomain: 'cluster.local' },
    nodePools: noPools,
    log: silentLogger,
    workers: 2,
    queueBackoff: { baseMs: 5, maxMs: 20, jitter: 0 },
  });
  await c.start();
  try {
    await body(c);
  } finally {
    await c.stop();
  }
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 3000;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await delay(5);
  }
}

test(
  'a new API: Service applied, ' + 'Deployment created with initReplicas then applied without, HPA, status via /status',
  async () => {
    const fake = new FakeKube();
    fake.put(REALTIMEAPIS, apiObject('iris', { autoscaling: { minReplicas: 2, maxReplicas: 4 } }));
    await run(fake, async () => {
      await until(() => fake.calls.some((c) => c.subresource === 'status'), 'a status write');
    });
    const writes = fake.calls.filter((c) => c.verb !== 'get');
    assert.deepEqual(
      writes.map((c) => [c.verb, c.kind, c.fieldManager, c.subresource]),
      [
        ['apply', 'Service', 'cortex-operator', undefined],
        ['create', 'Deployment', 'cortex-operator-init', undefined],
        ['apply', 'Deployment', 'cortex-operator', undefined],
        ['apply', 'HorizontalPodAutoscaler', 'cortex-operator', undefined],
        ['apply', 'RealtimeAPI', 'cortex-operator-status', 'status'],
      ],
    );
    const created = writes[1].body as { spec: { replicas?: number } };
    const applied = writes[2].body as { spec: { replicas?: number } };
    assert.equal(created.spec.replicas, 2, 'initReplicas only at creation');
    assert.equal(applied.spec.replicas, undefined, 'never applied: the HPA owns replicas');
    const status = (writes[4].body as { status: { status: string; observedGeneration: number; endpoint: string } })
      .status;
    assert.equal(status.status, 'updating', "the applied Deployment's generation is not observed yet");
    assert.equal(status.observedGeneration, 1);
    assert.equal(status.endpoint, 'http://iris.ml.svc.cluster.local/');
    assert.deepEqual(
      Object.keys(writes[4].body!).sort(),
      ['apiVersion', 'kind', 'metadata', 'status'],
      'a status write carries no spec',
    );
  },
);

test('an unchanged status is not written again', async () => {
  const fake = new FakeKube();
  fake.put(REALTIMEAPIS, apiObject('iris', {}));
  await run(fake, async (c) => {
    await until(() => fake.calls.some((x) => x.subresource === 'status'), 'the first status');
    const written = fake.calls.find((x) => x.subresource === 'status')!.body!.status;
    // the API as the server now has it, with that status: reconciling again changes nothing
    fake.put(REALTIMEAPIS, { ...apiObject('iris', {}), status: written });
    await c.apis.stop();
    (c.apis as unknown as { cache: Map<string, KubeObject> }).cache.set(
      'ml/iris',
      fake.objects.get('realtimeapis/ml/iris')!,
    );
    fake.calls.length = 0;
    await c.reconcile('ml/iris');
    assert.equal(fake.calls.filter((x) => x.subresource === 'status').length, 0);
  });
});

test('an invalid spec (that slipped past the CRD) is reported and nothing is applied', async () => {
  const fake = new FakeKube();
  fake.put(REALTIMEAPIS, apiObject('bad', { autoscaling: { minReplicas: 5, maxReplicas: 2 } }));
  await run(fake, async () => {
    await until(() => fake.calls.some((c) => c.subresource === 'status'), 'a status write');
  });
  assert.deepEqual(
    fake.calls.filter((c) => c.verb !== 'get').map((c) => c.kind),
    ['RealtimeAPI'],
  );
  const status = fake.calls.find((c) => c.subresource === 'status')!.body!.status as {
    status: string;
    message: string;
    conditions: { reason: string }[];
  };
  assert.equal(status.status, 'error');
  assert.match(status.message, /autoscaling.minReplicas: must be ≤ maxReplicas/);
  assert.equal(status.conditions[0].reason, 'InvalidSpec');
});

test('an AsyncAPI without a queue (no --queue-url): error, QueueMissing with the fix, nothing applied', async () => {
  const fake = new FakeKube();
  fake.put(REALTIMEAPIS, apiObject('later', { async: {} }));
  await run(fake, async () => {
    await until(() => fake.calls.some((c) => c.subresource === 'status'), 'a status write');
  });
  assert.deepEqual(
    fake.calls.filter((c) => c.verb !== 'get').map((c) => c.kind),
    ['RealtimeAPI'],
  );
  const status = fake.calls.find((c) => c.subresource === 'status')!.body!.status as {
    status: string;
    message: string;
    conditions: { reason: string }[];
  };
  assert.equal(status.status, 'error');
  assert.match(status.message, /has none configured; fix: set the chart value queue\.url/);
  assert.equal(status.conditions[0].reason, 'QueueMissing');
});

test("an AsyncAPI with a queue: its replicas get the queue's URL and their namespace as its scope", async () => {
  const fake = new FakeKube();
  fake.put(REALTIMEAPIS, apiObject('later', { async: {} }));
  await run(
    fake,
    async () => {
      await until(() => fake.calls.some((c) => c.kind === 'Deployment' && c.verb !== 'get'), 'the Deployment');
    },
    { queueUrl: 'redis://queue:6379' },
  );
  const deployment = fake.calls.find((c) => c.kind === 'Deployment' && c.verb !== 'get')!
    .body as unknown as V1Deployment;
  const env = deployment.spec!.template.spec!.containers[0]!.env!;
  assert.equal(env.find((e) => e.name === 'CORTEX_QUEUE_URL')?.value, 'redis://queue:6379');
  assert.equal(env.find((e) => e.name === 'CORTEX_QUEUE_SCOPE')?.value, 'ml');
  // the replica must know it is an AsyncAPI (work the queue, serve the front), with its settings
  const served = parseRuntimeSpec(env.find((e) => e.name === 'CORTEX_API_SPEC')!.value!);
  assert.equal(served.spec.async?.maxDeliveries, 3);
});

test("a Service that is not the API's is left alone and the status says so", async () => {
  const fake = new FakeKube();
  fake.put(REALTIMEAPIS, apiObject('taken', {}));
  fake.put(SERVICES, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'taken', namespace: 'ml' } });
  await run(fake, async () => {
    await until(() => fake.calls.some((c) => c.subresource === 'status'), 'a status write');
  });
  assert.deepEqual(
    fake.calls.filter((c) => c.verb !== 'get').map((c) => c.kind),
    ['RealtimeAPI'],
    "no apply over someone else's Service",
  );
  const status = fake.calls.find((c) => c.subresource === 'status')!.body!.status as {
    status: string;
    message: string;
  };
  assert.equal(status.status, 'error');
  assert.match(status.message, /Service ml\/taken already exists and is not controlled by this RealtimeAPI/);
});

test('a failing apply is reported and retried with backoff', async () => {
  const fake = new FakeKube();
  fake.put(REALTIMEAPIS, apiObject('iris', {}));
  let failures = 0;
  fake.failApply = (r) =>
    r.kind === 'HorizontalPodAutoscaler' && failures++ < 2
      ? new KubeError('PATCH', 'x', 500, '{"message":"etcd timeout"}')
      : undefined;
  await run(fake, async () => {
    await until(
      () => fake.calls.filter((c) => c.verb === 'apply' && c.kind === 'HorizontalPodAutoscaler').length >= 3,
      'two retries',
    );
  });
  const statuses = fake.calls
    .filter((c) => c.subresource === 'status')
    .map((c) => c.body!.status as { status: string; message?: string });
  assert.equal(statuses[0].status, 'error');
  assert.match(statuses[0].message!, /etcd timeout/);
  assert.equal(statuses[statuses.length - 1].status, 'updating', 'the error clears once the apply succeeds');
});

test('metrics count reconciles and writes; Events say what was created and why an API failed', async () => {
  const fake = new FakeKube();
  fake.put(REALTIMEAPIS, apiObject('iris', {}));
  fake.put(REALTIMEAPIS, apiObject('bad', { autoscaling: { minReplicas: 5, maxReplicas: 2 } }));
  const metrics = createMetrics();
  const events: [string, string, string, string][] = [];
  const recorder: EventRecorder = {
    event: (obj, type, reason, message) => void events.push([String(obj.metadata?.name), type, reason, message]),
  };
  await run(
    fake,
    async () => {
      await until(() => fake.calls.filter((c) => c.subresource === 'status').length >= 2, 'two status writes');
      await delay(20);
    },
    { metrics, events: recorder },
  );
  const text = await metrics.registry.metrics();
  assert.match(text, /cortex_operator_reconciles_total\{result="success"\} 2/);
  assert.match(text, /cortex_operator_reconcile_duration_seconds_count\{result="success"\} 2/);
  assert.match(text, /cortex_operator_writes_total\{kind="Deployment",verb="create"\} 1/);
  assert.match(text, /cortex_operator_writes_total\{kind="Service",verb="apply"\} 1/);
  assert.match(text, /cortex_operator_workqueue_depth 0/);
  assert.deepEqual(
    events.filter((e) => e[0] === 'iris').map((e) => e.slice(1)),
    [
      ['Normal', 'Created', 'created Service ml/iris'],
      ['Normal', 'Created', 'created Deployment ml/iris'],
      ['Normal', 'Created', 'created HorizontalPodAutoscaler ml/iris'],
    ],
  );
  const bad = events.filter((e) => e[0] === 'bad');
  assert.equal(bad.length, 1);
  assert.deepEqual(bad[0].slice(1, 3), ['Warning', 'InvalidSpec']);
  assert.match(bad[0][3], /minReplicas/);
});

test('stop() aborts a reconcile in flight (a hung apply) and waits for it; nothing is written afterwards', async () => {
  const fake = new FakeKube();
  fake.hangApply = true;
  fake.put(REALTIMEAPIS, apiObject('iris', {}));
  let stopMs = 0;
  await run(fake, async (c) => {
    await until(() => fake.calls.some((call) => call.verb === 'apply'), 'an apply in flight');
    const start = Date.now();
    await c.stop(); // run() stops it again: stop() may be called twice
    stopMs = Date.now() - start;
    assert.equal(c.queue.inFlight, 0);
  });
  assert.ok(stopMs < 1000, `stopped in ${stopMs} ms`);
  assert.equal(fake.calls.filter((call) => call.subresource === 'status').length, 0, 'no status from half a reconcile');
});
