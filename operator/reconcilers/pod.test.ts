import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PROXY_PORTS, applyDefaults, gpusPerReplica, type RealtimeApiSpecInput } from '../api/v1alpha1/index.ts';
import { selectPool, type NodePool } from '../node-pools.ts';
import { deploymentReconciler, RUNTIME_PORT, SPEC_HASH_ANNOTATION } from './deployment.ts';
import { desiredService } from './service.ts';
import { desiredHpa } from './hpa.ts';
import type { ApiInstance, ChildConfig } from './types.ts';

const POOLS: NodePool[] = [
  { name: 'cpu', nodeSelector: { pool: 'cpu' }, tolerations: [] },
  { name: 'gpu', nodeSelector: { pool: 'gpu' }, tolerations: [], gpuResource: 'nvidia.com/gpu' },
];

function podApi(spec: RealtimeApiSpecInput): { api: ApiInstance; config: ChildConfig } {
  const api = { name: 'text', namespace: 'ml', uid: 'u', generation: 1, spec: applyDefaults('text', spec) };
  const choice = selectPool({ gpu: gpusPerReplica(api.spec), nodeGroups: undefined }, { pools: POOLS, source: 't' });
  assert.ok(choice.placement, choice.unavailable);
  return {
    api,
    config: {
      runtimeImage: 'cortex/runtime:test',
      hpaTolerance: true,
      clusterDomain: 'c.l',
      placement: choice.placement,
    },
  };
}

const SPEC: RealtimeApiSpecInput = {
  pod: {
    port: 9000,
    maxConcurrency: 3,
    maxQueueLength: 7,
    containers: [
      {
        name: 'server',
        image: 'example.com/server:1',
        command: ['python', '-m', 'server'],
        args: ['--port', '$(CORTEX_PORT)'],
        env: { MODEL: 'small', CORTEX_PORT: '1' },
        compute: { cpu: 1, mem: '1Gi', gpu: 1, shm: '256Mi' },
        readinessProbe: { httpGet: { port: 9000, path: '/healthz' }, periodSeconds: 2 },
        livenessProbe: { tcpSocket: { port: 9000 }, initialDelaySeconds: 30 },
        preStop: { exec: { command: ['sleep', '2'] } },
      },
      { name: 'sidecar', image: 'example.com/sidecar:1' },
    ],
  },
  autoscaling: { minReplicas: 0 },
};

test("a pod API's replica: cortex proxy in front, then the user's containers as written", () => {
  const { api, config } = podApi(SPEC);
  const d = deploymentReconciler.desired(api, config);
  const pod = d.spec!.template.spec!;
  assert.deepEqual(
    pod.containers.map((c) => c.name),
    ['cortex-proxy', 'server', 'sidecar'],
  );
  const [proxy, server, sidecar] = pod.containers;
  assert.equal(PROXY_PORTS.traffic, RUNTIME_PORT, 'the port validation reserves is the one the proxy gets');
  assert.equal(proxy.image, 'cortex/runtime:test');
  assert.deepEqual(proxy.command, [
    'cortex', 'proxy', '--api', 'text', '--port', String(RUNTIME_PORT), '--admin-port', '15000',
    '--upstream-port', '9000', '--max-concurrency', '3', '--max-queue-length', '7', '--grace-period', '30',
  ]); // prettier-ignore
  assert.deepEqual(proxy.readinessProbe?.httpGet, { path: '/readyz', port: 'admin' });
  assert.deepEqual(proxy.resources, { requests: { cpu: '200m' } });
  assert.deepEqual(proxy.lifecycle?.preStop, { sleep: { seconds: 5 } });

  assert.equal(server.image, 'example.com/server:1');
  assert.deepEqual(server.command, ['python', '-m', 'server']);
  assert.deepEqual(server.args, ['--port', '$(CORTEX_PORT)']);
  assert.deepEqual(server.env, [
    { name: 'MODEL', value: 'small' },
    { name: 'CORTEX_PORT', value: '9000' },
  ]);
  assert.deepEqual(server.resources, {
    requests: { cpu: '1', memory: '1Gi' },
    limits: { memory: '1Gi', 'nvidia.com/gpu': '1' },
  });
  assert.deepEqual(server.readinessProbe, {
    httpGet: { port: 9000, path: '/healthz' },
    initialDelaySeconds: 0,
    timeoutSeconds: 1,
    periodSeconds: 2,
    successThreshold: 1,
    failureThreshold: 3,
  });
  assert.deepEqual(server.livenessProbe?.tcpSocket, { port: 9000 });
  assert.equal(server.livenessProbe?.initialDelaySeconds, 30);
  assert.deepEqual(server.lifecycle, { preStop: { exec: { command: ['sleep', '2'] } } });
  assert.deepEqual(server.volumeMounts, [
    { name: 'cortex-mnt', mountPath: '/mnt' },
    { name: 'shm-0', mountPath: '/dev/shm' },
  ]);
  assert.deepEqual(sidecar.resources, { requests: { cpu: '200m' } });
  assert.equal(sidecar.readinessProbe, undefined);
  assert.deepEqual(sidecar.volumeMounts, [{ name: 'cortex-mnt', mountPath: '/mnt' }]);
  assert.deepEqual(pod.volumes, [
    { name: 'cortex-mnt', emptyDir: {} },
    { name: 'shm-0', emptyDir: { medium: 'Memory', sizeLimit: '256Mi' } },
  ]);
  assert.deepEqual(pod.nodeSelector, { pool: 'gpu' }, "the containers' GPUs place the replica on the GPU pool");

  const annotations = d.spec!.template.metadata!.annotations!;
  assert.equal(annotations['prometheus.io/port'], '15000', "the metrics adapter scrapes the proxy's admin port");
  assert.match(annotations[SPEC_HASH_ANNOTATION], /^[0-9a-f]+$/);
  assert.equal(pod.initContainers, undefined, 'no bundle to unpack');
});

test('the Service and the HPA of a pod API are those of any API: the proxy is on the runtime port', () => {
  const { api, config } = podApi(SPEC);
  assert.equal(desiredService(api, config).spec!.ports![0].targetPort, RUNTIME_PORT);
  const hpa = desiredHpa(api, config);
  const metric = hpa.spec!.metrics![0].pods!;
  assert.equal(metric.metric.name, 'cortex_in_flight_requests');
  assert.equal(metric.target.averageValue, '3', 'target_in_flight defaults to max_concurrency');
});

test('a change to a container rolls the replicas (the template changes)', () => {
  const before = podApi(SPEC);
  const changed = structuredClone(SPEC);
  changed.pod!.containers![1]!.image = 'example.com/sidecar:2';
  const after = podApi(changed);
  const hash = (x: ReturnType<typeof podApi>) =>
    deploymentReconciler.desired(x.api, x.config).spec!.template.metadata!.annotations![SPEC_HASH_ANNOTATION];
  assert.notEqual(hash(before), hash(after));
});

test('auth api_key: the proxy gets the keys Secret and checks the keys; the user containers do not see it', () => {
  const { api, config } = podApi({ ...SPEC, networking: { auth: 'api_key' } });
  const pod = deploymentReconciler.desired(api, config).spec!.template.spec!;
  const [proxy, ...users] = pod.containers;
  assert.deepEqual(proxy.volumeMounts, [{ name: 'api-keys', mountPath: '/etc/cortex/api-keys', readOnly: true }]);
  assert.deepEqual(proxy.env, [{ name: 'CORTEX_API_KEYS_DIR', value: '/etc/cortex/api-keys' }]);
  assert.equal(pod.volumes?.find((v) => v.name === 'api-keys')?.secret?.secretName, 'cortex-api-keys-text');
  for (const c of users) assert.ok(!c.volumeMounts?.some((m) => m.name === 'api-keys'), c.name);
  const open = deploymentReconciler.desired(podApi(SPEC).api, config).spec!.template.spec!;
  assert.equal(open.containers[0].env, undefined, 'auth none: nothing to check');
});
