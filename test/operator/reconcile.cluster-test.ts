// What cortex-operator makes of RealtimeAPIs on a real control plane (operator-suite.ts): the
// children and their fields, the status, a rollout that keeps the autoscaler's replicas, drift
// put back, compute it cannot get, CEL admission, objects it must not take over, Events, garbage
// collection, and that it needed no more than its declared RBAC rules for all of it. The tests
// build on each other (iris is created, rolled out, drifted, then deleted), in this order.
// Not part of `npm test` (a cold machine builds Kubernetes first): `npm run test:cluster`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Cluster } from '../cluster/cluster.ts';
import { OPERATOR_NS, OPERATOR_USER } from '../helpers/identity.ts';
import { waitFor } from '../helpers/wait.ts';
import { NS, operatorSuite, realtimeApi, type Obj } from './operator-suite.ts';

describe('cortex-operator on a real control plane', { concurrency: false }, () => {
  const suite = operatorSuite('cortex-operator-test');
  const { k, get, apply, statusOf, waitStatus, events, logs } = suite;
  let cluster: Cluster;
  before(() => {
    cluster = suite.cluster;
  });

  test('a CPU API gets its Deployment, Service and HPA with the right fields', async () => {
    await apply(
      realtimeApi('iris', {
        compute: { cpu: '500m', mem: '256Mi' },
        autoscaling: { minReplicas: 2, maxReplicas: 5, targetReplicaConcurrency: 3 },
        predictor: { env: { MODEL: 's3://bucket/iris.pkl' } },
      }),
    );
    const api = await get('realtimeapi', 'iris');
    const d = await waitFor('the Deployment', () => get('deployment', 'iris'));
    const owner = {
      apiVersion: 'cortex.dev/v1alpha1',
      kind: 'RealtimeAPI',
      name: 'iris',
      uid: api.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    };
    assert.deepEqual(d.metadata.ownerReferences, [owner]);
    assert.equal(d.metadata.labels['cortex.dev/api'], 'iris');
    assert.equal(d.spec.replicas, 2, 'created with initReplicas (= minReplicas)');
    assert.deepEqual(d.spec.strategy, {
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
    });
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    assert.equal(c.image, 'fake.invalid/iris:1');
    assert.deepEqual(c.command.slice(0, 5), ['cortex', 'serve', '/mnt/project', '--api', 'iris']);
    assert.deepEqual(c.resources, { requests: { cpu: '500m', memory: '256Mi' }, limits: { memory: '256Mi' } });
    assert.deepEqual(c.env[0], { name: 'MODEL', value: 's3://bucket/iris.pkl' });
    // the runtime's settings: the spec the operator reconciled (test/operator/spec-to-runtime covers the replica),
    // then the node's dependency cache (on by default; test/operator/dependency-cache covers it)
    assert.deepEqual(
      c.env.slice(1).map((e: Obj) => e.name),
      ['CORTEX_API_SPEC', 'CORTEX_CACHE_DIR', 'CORTEX_CACHE_MAX_SIZE'],
    );
    assert.deepEqual(
      pod.volumes.map((v: Obj) => v.hostPath?.path),
      ['/var/lib/cortex/dependency-cache'],
    );
    assert.equal(JSON.parse(c.env[1].value).spec.predictor.env.MODEL, 's3://bucket/iris.pkl');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.deepEqual(c.lifecycle.preStop, { sleep: { seconds: 5 } });
    assert.equal(c.terminationMessagePolicy, 'FallbackToLogsOnError');
    assert.equal(pod.terminationGracePeriodSeconds, 40);
    assert.deepEqual(pod.nodeSelector, { 'cortex.dev/node-pool': 'cpu' });
    assert.equal(d.spec.template.metadata.annotations['prometheus.io/scrape'], 'true');
    // replicas are never applied by cortex-operator (the HPA owns them after creation)
    const withFields = await cluster.kubectl.json<Obj>([
      'get',
      'deployment',
      'iris',
      '-n',
      NS,
      '--show-managed-fields',
    ]);
    const appliedBy = withFields.metadata.managedFields.find(
      (m: Obj) => m.manager === 'cortex-operator' && m.operation === 'Apply',
    );
    assert.ok(appliedBy, 'applied with field manager cortex-operator');
    assert.equal(appliedBy.fieldsV1['f:spec']['f:replicas'], undefined);

    const svc = await waitFor('the Service', () => get('service', 'iris'));
    assert.deepEqual(svc.spec.selector, { 'cortex.dev/api': 'iris' });
    assert.deepEqual(
      svc.spec.ports.map((p: Obj) => [p.port, p.targetPort]),
      [[80, 8888]],
    );
    assert.deepEqual(svc.metadata.ownerReferences, [owner]);

    const hpa = await waitFor('the HPA', () => get('hpa', 'iris'));
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'iris' });
    assert.deepEqual([hpa.spec.minReplicas, hpa.spec.maxReplicas], [2, 5]);
    assert.deepEqual(hpa.spec.metrics, [
      {
        type: 'Pods',
        pods: { metric: { name: 'cortex_in_flight_requests' }, target: { type: 'AverageValue', averageValue: '3' } },
      },
    ]);
    assert.equal(hpa.spec.behavior.scaleUp.stabilizationWindowSeconds, 60);
    assert.equal(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds, 300);
    assert.deepEqual(hpa.spec.behavior.scaleUp.policies, [
      { type: 'Percent', value: 50, periodSeconds: 60 },
      { type: 'Pods', value: 1, periodSeconds: 60 },
    ]);
    assert.deepEqual(hpa.spec.behavior.scaleDown.policies, [
      { type: 'Percent', value: 25, periodSeconds: 300 },
      { type: 'Pods', value: 1, periodSeconds: 300 },
    ]);
    assert.deepEqual(hpa.metadata.ownerReferences, [owner]);
  });

  test('its pods run on the CPU pool and the status says live, with observedGeneration and the endpoint', async () => {
    const api = await waitStatus('iris', 'live');
    assert.equal(api.status.ready, '2/2');
    assert.deepEqual(api.status.replicas, { requested: 2, ready: 2, updated: 2, available: 2 });
    assert.equal(api.status.endpoint, `http://iris.${NS}.svc.cluster.local/`);
    const ready = api.status.conditions.find((c: Obj) => c.type === 'Ready');
    assert.deepEqual([ready.status, ready.reason, ready.observedGeneration], ['True', 'Live', api.metadata.generation]);
    const pods = (await cluster.kubectl.json<{ items: Obj[] }>(['get', 'pods', '-n', NS, '-l', 'cortex.dev/api=iris']))
      .items;
    assert.equal(pods.length, 2);
    for (const p of pods) {
      assert.equal(p.status.phase, 'Running');
      assert.match(p.spec.nodeName, /^kwok-cpu-\d$/);
    }
    // printer columns
    const table = await k(['get', 'realtimeapi', 'iris', '-n', NS]);
    assert.match(table, /NAME\s+STATUS\s+READY\s+ENDPOINT\s+AGE/);
    assert.match(table, /iris\s+live\s+2\/2\s+http:\/\/iris\.ml\.svc\.cluster\.local\//);
    assert.match(await k(['get', 'rapi', '-n', NS, '-o', 'name']), /realtimeapi.cortex.dev\/iris/);
  });

  test('a GPU API runs on a GPU node with the GPU limit and the pool toleration', async () => {
    await apply(realtimeApi('gpu-api', { compute: { cpu: 1, gpu: 2, mem: '1Gi' } }));
    const api = await waitStatus('gpu-api', 'live');
    assert.equal(api.status.ready, '1/1');
    const d = await get('deployment', 'gpu-api');
    const pod = d.spec.template.spec;
    assert.deepEqual(pod.containers[0].resources.limits, { memory: '1Gi', 'nvidia.com/gpu': '2' });
    assert.deepEqual(pod.nodeSelector, { 'cortex.dev/node-pool': 'gpu' });
    assert.deepEqual(pod.tolerations, [
      { key: 'nvidia.com/gpu', operator: 'Equal', value: 'present', effect: 'NoSchedule' },
    ]);
    const pods = (
      await cluster.kubectl.json<{ items: Obj[] }>(['get', 'pods', '-n', NS, '-l', 'cortex.dev/api=gpu-api'])
    ).items;
    assert.equal(pods.length, 1);
    assert.match(pods[0].spec.nodeName, /^kwok-gpu-\d$/);
  });

  test('a spec change rolls out; the replicas the autoscaler set are kept', async () => {
    // what the HPA does: write replicas through the scale subresource
    await k(['scale', 'deployment', 'iris', '-n', NS, '--replicas=3']);
    await waitStatus('iris', 'live');
    await waitFor('3 ready replicas', async () => (await statusOf('iris')).ready === '3/3');
    const before = await get('realtimeapi', 'iris');
    await k([
      'patch',
      'realtimeapi',
      'iris',
      '-n',
      NS,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { predictor: { image: 'fake.invalid/iris:2' } } }),
    ]);
    const api = await waitFor(
      'the new generation to be live',
      async () => {
        const a = await get('realtimeapi', 'iris');
        return (
          a.metadata.generation > before.metadata.generation &&
          a.status?.observedGeneration === a.metadata.generation &&
          a.status.status === 'live' &&
          a
        );
      },
      90_000,
    );
    assert.equal(api.status.ready, '3/3');
    const d = await get('deployment', 'iris');
    assert.equal(d.spec.replicas, 3, 'the operator does not fight the autoscaler over replicas');
    assert.equal(d.spec.template.spec.containers[0].image, 'fake.invalid/iris:2');
    const pods = (
      await cluster.kubectl.json<{ items: Obj[] }>(['get', 'pods', '-n', NS, '-l', 'cortex.dev/api=iris'])
    ).items.filter((p) => !p.metadata.deletionTimestamp);
    assert.equal(pods.length, 3);
    for (const p of pods) assert.equal(p.spec.containers[0].image, 'fake.invalid/iris:2');
    const rs = (
      await cluster.kubectl.json<{ items: Obj[] }>(['get', 'replicasets', '-n', NS, '-l', 'cortex.dev/api=iris'])
    ).items;
    assert.equal(rs.length, 2, 'a new ReplicaSet rolled out, the old one kept at 0');
  });

  test(
    'drift: a deleted Service, ' + 'an edited Deployment image and an edited HPA are put back within seconds',
    async () => {
      const svc = await get('service', 'iris');
      await k(['delete', 'service', 'iris', '-n', NS, '--wait=true']);
      await k([
        'patch',
        'deployment',
        'iris',
        '-n',
        NS,
        '--type=json',
        '-p',
        JSON.stringify([
          { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'fake.invalid/evil:1' },
        ]),
      ]);
      await k(['patch', 'hpa', 'iris', '-n', NS, '--type=merge', '-p', JSON.stringify({ spec: { maxReplicas: 99 } })]);
      const back = await waitFor(
        'the Service to be recreated',
        async () => {
          const s = await get('service', 'iris').catch(() => undefined);
          return s && s.metadata.uid !== svc.metadata.uid && s;
        },
        10_000,
      );
      assert.deepEqual(back.spec.selector, { 'cortex.dev/api': 'iris' });
      assert.equal(back.metadata.ownerReferences[0].name, 'iris');
      await waitFor(
        'the image to be restored',
        async () => (await get('deployment', 'iris')).spec.template.spec.containers[0].image === 'fake.invalid/iris:2',
        10_000,
      );
      await waitFor('the HPA to be restored', async () => (await get('hpa', 'iris')).spec.maxReplicas === 5, 10_000);
      assert.equal((await get('deployment', 'iris')).spec.replicas, 3, "replicas stay the autoscaler's");
      await waitStatus('iris', 'live', 90_000);
    },
  );

  test('an unsatisfiable GPU request is "compute unavailable" with the scheduler\'s message', async () => {
    await apply(realtimeApi('huge', { compute: { gpu: 16 } }));
    const api = await waitStatus('huge', 'compute unavailable');
    assert.match(api.status.message, /Insufficient nvidia\.com\/gpu/);
    assert.equal(api.status.conditions.find((c: Obj) => c.type === 'Ready').reason, 'Unschedulable');
    assert.equal(api.status.ready, '0/1');
  });

  test('a request no node pool fits is "compute unavailable" naming the pools', async () => {
    await apply(realtimeApi('tpu-api', { compute: { nodeGroups: ['tpu'] } }));
    const api = await waitStatus('tpu-api', 'compute unavailable');
    assert.match(
      api.status.message,
      /compute\.nodeGroups lists tpu, which does not exist; the pools are: cpu \(no GPUs\), gpu \(GPU: NVIDIA-A10G, nvidia\.com\/gpu\)/,
    );
    assert.match(api.status.message, /ConfigMap cortex-system\/cortex-node-pools/);
    await assert.rejects(get('deployment', 'tpu-api'), /NotFound/);
  });

  test('the CEL rules reject minReplicas > maxReplicas (and other cross-field mistakes) at apply time', async () => {
    await assert.rejects(
      apply(realtimeApi('bad', { autoscaling: { minReplicas: 5, maxReplicas: 2 } })),
      /minReplicas must be less than or equal to maxReplicas/,
    );
    await assert.rejects(
      apply(realtimeApi('bad', { updateStrategy: { maxSurge: 0, maxUnavailable: '0%' } })),
      /must not both be 0/,
    );
    await assert.rejects(apply(realtimeApi('bad', { autoscaling: { window: '15s' } })), /multiple of 10s/);
    await assert.rejects(apply(realtimeApi('bad', { compute: { gpu: 0.5 } })), /must be of type integer/);
    await assert.rejects(apply(realtimeApi('9bad', {})), /metadata\.name/);
    await assert.rejects(
      apply({ ...realtimeApi('bad', {}), spec: { predictor: { type: 'python', path: 'p.py' } } }),
      /predictor\.bundle/,
    );
    await assert.rejects(get('realtimeapi', 'bad'), /NotFound/);
  });

  test("an object of the same name that is not the API's is never taken over", async () => {
    await k(['create', 'service', 'clusterip', 'taken', '-n', NS, '--tcp=81:81']);
    await apply(realtimeApi('taken', {}));
    const api = await waitStatus('taken', 'error');
    assert.match(api.status.message, /Service ml\/taken already exists and is not controlled by this RealtimeAPI/);
    const svc = await get('service', 'taken');
    assert.equal(svc.spec.ports[0].port, 81);
    assert.equal(svc.metadata.ownerReferences, undefined);
  });

  test('Events on the RealtimeAPI: children created and updated, live, and failures as Warnings', async () => {
    const iris = await waitFor(
      "iris's events",
      async () => {
        const evs = await events('iris');
        const reasons = new Set(evs.map((e) => e.reason));
        return ['Created', 'Updated', 'Live'].every((r) => reasons.has(r)) && evs;
      },
      15_000,
    );
    assert.ok(
      iris.some((e) => e.reason === 'Created' && e.type === 'Normal' && /created Service ml\/iris/.test(e.message)),
      'the recreated Service',
    );
    assert.ok(
      iris.some((e) => e.reason === 'Updated' && /updated Deployment ml\/iris/.test(e.message)),
      'the restored image',
    );
    for (const e of iris) {
      assert.equal(e.source.component, 'cortex-operator');
      assert.equal(e.involvedObject.apiVersion, 'cortex.dev/v1alpha1');
    }
    const taken = await waitFor(
      'a Warning on taken',
      async () => (await events('taken')).find((e) => e.type === 'Warning'),
      15_000,
    );
    assert.match(taken.message, /not controlled by this RealtimeAPI/);
    const huge = await waitFor(
      'a Warning on huge',
      async () => (await events('huge')).find((e) => e.type === 'Warning'),
      15_000,
    );
    assert.equal(huge.reason, 'Unschedulable');
    assert.match(await k(['describe', 'realtimeapi', 'iris', '-n', NS]), /Created\s+.*created Deployment ml\/iris/);
  });

  test('deleting a RealtimeAPI garbage-collects its Deployment, Service, HPA and pods', async () => {
    const ofIris = (kinds: string) => k(['get', kinds, '-n', NS, '-l', 'cortex.dev/api=iris', '-o', 'name']);
    const children = await ofIris('deployments,services,hpa,pods');
    assert.equal(children.trim().split('\n').length, 6, `before: ${children}`);
    await k(['delete', 'realtimeapi', 'iris', '-n', NS, '--wait=true']);
    await waitFor(
      'the children to be collected',
      async () => {
        const left = await ofIris('deployments,services,hpa,replicasets,pods');
        return left.trim() === '';
      },
      90_000,
    );
  });

  test(
    'the operator ran as a ServiceAccount bound to exactly the declared rules, ' + 'and needed nothing more',
    async () => {
      const can = async (...args: string[]) =>
        (
          await cluster.kubectl(['auth', 'can-i', ...args, `--as=${OPERATOR_USER}`]).catch((e: Error) => e.message)
        ).trim();
      assert.equal(await can('patch', 'deployments', '-n', NS), 'yes');
      assert.equal(await can('patch', 'realtimeapis', '--subresource=status', '-n', NS), 'yes');
      assert.equal(await can('watch', 'configmaps', '-n', OPERATOR_NS), 'yes');
      // bundle ConfigMaps (test/operator/bundle.cluster-test.ts): read, owner references patched,
      // unused ones deleted; never created or replaced
      assert.equal(await can('list', 'configmaps', '-n', NS), 'yes');
      assert.match(await can('create', 'configmaps', '-n', NS), /no/);
      assert.match(await can('update', 'configmaps', '-n', NS), /no/);
      assert.match(await can('delete', 'deployments', '-n', NS), /no/);
      assert.match(await can('get', 'secrets', '-n', NS), /no/);
      assert.match(await can('patch', 'realtimeapis', '-n', NS), /no/, "the spec is the user's");
      const forbidden = logs.filter((l) => /forbidden|\b403\b/i.test(l));
      assert.deepEqual(forbidden, [], 'no request of the operator was refused');
      assert.ok(
        logs.some((l) => l.includes('"status"')),
        'the operator did its work under these rules',
      );
    },
  );
});
