// An AsyncAPI's queue depth on a real redis-server, as the metrics API serves it and the HPA the
// operator writes targets it (docs/async.md, "In a cluster").
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { applyDefaults } from '../api/v1alpha1/index.ts';
import { desiredHpa } from '../reconcilers/hpa.ts';
import { asyncNames } from '../../runtime/async/records.ts';
import { openBroker } from '../../runtime/queue/open.ts';
import type { Broker } from '../../runtime/queue/types.ts';
import { redisMissing, startRedis, type RedisServer } from '../../test/helpers/redis-server.ts';
import { waitFor } from '../../test/helpers/wait.ts';
import { silentLogger } from '../util/log.ts';
import { MetricsApi, route } from './api.ts';
import { QueueDepths, QUEUE_DEPTH_METRIC } from './queue-depth.ts';
import { SampleStore } from './samples.ts';
import type { ApiObject } from './scraper.ts';

let redis: RedisServer;
let broker: Broker;
before(async () => {
  if (redisMissing) return;
  redis = await startRedis();
  broker = openBroker(redis.url);
});
after(async () => {
  await broker?.close();
  await redis?.close();
});

const api = (name: string, spec: object) =>
  ({
    metadata: { name, namespace: 'ml' },
    spec: { predictor: { type: 'python', path: 'p.py' }, ...spec },
  }) as ApiObject;

test(
  'the depth of an AsyncAPI (waiting + taken, not acked) is served as an Object metric of its RealtimeAPI',
  { skip: redisMissing },
  async () => {
    const names = asyncNames('ml', 'jobs');
    for (let i = 0; i < 3; i++) await broker.enqueue(names.stream, names.group, `r${i}`);
    // one taken by a worker and not acked: still counts
    await broker.read(names.stream, names.group, 'w1', { count: 1, blockMs: 0, claimIdleMs: 60_000, maxDeliveries: 3 });
    const depths = new QueueDepths({
      broker: openBroker(redis.url, { failFast: true }),
      apis: () => [api('jobs', { async: {} }), api('plain', {})],
      log: silentLogger,
      intervalMs: 50,
    });
    depths.start();
    try {
      await waitFor('the depth', async () => depths.get('ml', 'jobs')?.value === 3);
      assert.equal(depths.get('ml', 'plain'), undefined, 'a RealtimeAPI has no queue');
      const metrics = new MetricsApi({
        pods: () => [],
        store: new SampleStore(),
        windowMs: () => 60_000,
        queueDepths: depths,
      });
      const base = '/apis/custom.metrics.k8s.io/v1beta2/namespaces/ml/realtimeapis.cortex.dev';
      const path = `${base}/jobs/${QUEUE_DEPTH_METRIC}`;
      const answer = metrics.answer(route(path)!, new URLSearchParams()) as {
        status: number;
        body: { items: { value: string; metric: { name: string }; describedObject: { kind: string } }[] };
      };
      assert.equal(answer.status, 200);
      assert.equal(answer.body.items[0]!.value, '3');
      assert.equal(answer.body.items[0]!.describedObject.kind, 'RealtimeAPI');
      const plain = metrics.answer(route(path.replace('/jobs/', '/plain/'))!, new URLSearchParams());
      assert.equal(plain.status, 404);
      const discovery = metrics.answer(route('/apis/custom.metrics.k8s.io/v1beta1')!, new URLSearchParams()) as {
        body: { resources: { name: string }[] };
      };
      assert.ok(discovery.body.resources.some((r) => r.name === `realtimeapis.cortex.dev/${QUEUE_DEPTH_METRIC}`));
    } finally {
      await depths.stop();
    }
  },
);

test("an AsyncAPI's HPA targets its queue depth per replica (targetReplicaConcurrency), not in-flight requests", () => {
  const config = {
    runtimeImage: 'rt',
    hpaTolerance: false,
    clusterDomain: 'cluster.local',
    placement: { pools: [], tolerations: [] },
  };
  const instance = (spec: object) => ({
    name: 'jobs',
    namespace: 'ml',
    uid: 'u',
    generation: 1,
    spec: applyDefaults('jobs', {
      predictor: { type: 'python', path: 'p.py' },
      autoscaling: { targetReplicaConcurrency: 4 },
      ...spec,
    }),
  });
  const [metric] = desiredHpa(instance({ async: {} }), config).spec!.metrics!;
  assert.deepEqual(metric, {
    type: 'Object',
    object: {
      describedObject: { apiVersion: 'cortex.dev/v1alpha1', kind: 'RealtimeAPI', name: 'jobs' },
      metric: { name: QUEUE_DEPTH_METRIC },
      target: { type: 'AverageValue', averageValue: '4' },
    },
  });
  assert.equal(desiredHpa(instance({}), config).spec!.metrics![0]!.type, 'Pods');
});
