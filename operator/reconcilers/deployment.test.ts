// The Deployment reconciler's desired object: image, probes, placement, bundles, the runtime's spec.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  deploymentReconciler,
  desiredDeployment,
  bundlePart,
  TERMINATION_GRACE_SECONDS,
  SPEC_HASH_ANNOTATION,
  BUNDLE_HASH_ANNOTATION,
  UNPACK_SCRIPT,
  runtimeSpecJson,
  DEPENDENCY_CACHE_DIR,
  CACHE_PERMISSIONS_SCRIPT,
} from './deployment.ts';
import { RUNTIME_SPEC_ENV, RUNTIME_SPEC_MAX_BYTES, parseRuntimeSpec, runtimeSpecIssue } from './runtime-spec.ts';
import { deepMerge } from './apply.ts';
import { isOwnedBy, type ApiInstance } from './types.ts';
import type { NodePool } from '../node-pools.ts';
import { api, config } from './test-fixtures.ts';

test('Deployment: image, command, probes, drain, labels, owner, scrape annotations', () => {
  const a = api({});
  const d = deploymentReconciler.desired(a, config(a));
  assert.equal(d.metadata?.name, 'iris');
  assert.equal(d.metadata?.namespace, 'ml');
  assert.deepEqual(d.metadata?.labels, { 'cortex.dev/api': 'iris', 'app.kubernetes.io/managed-by': 'cortex-operator' });
  assert.deepEqual(d.metadata?.ownerReferences, [
    {
      apiVersion: 'cortex.dev/v1alpha1',
      kind: 'RealtimeAPI',
      name: 'iris',
      uid: 'uid-1',
      controller: true,
      blockOwnerDeletion: true,
    },
  ]);
  assert.ok(isOwnedBy(d as never, 'uid-1'));
  assert.equal(d.spec?.replicas, undefined, 'replicas belong to the HPA');
  assert.deepEqual(d.spec?.selector, { matchLabels: { 'cortex.dev/api': 'iris' } });
  assert.deepEqual(d.spec?.strategy, {
    type: 'RollingUpdate',
    rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
  });
  const pod = d.spec!.template.spec!;
  assert.equal(pod.containers.length, 1);
  const c = pod.containers[0];
  assert.equal(c.image, 'registry.example.com/iris:1');
  assert.deepEqual(c.command?.slice(0, 3), ['cortex', 'serve', '/mnt/project']);
  assert.deepEqual(c.command?.slice(3), ['--api', 'iris', '--port', '8888', '--grace-period', '30']);
  assert.deepEqual(c.ports, [{ name: 'http', containerPort: 8888, protocol: 'TCP' }]);
  assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
  assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
  assert.equal(c.startupProbe?.httpGet?.path, '/healthz');
  assert.equal(c.terminationMessagePolicy, 'FallbackToLogsOnError');
  assert.deepEqual(c.lifecycle?.preStop, { sleep: { seconds: 5 } });
  assert.equal(pod.terminationGracePeriodSeconds, TERMINATION_GRACE_SECONDS);
  assert.ok(TERMINATION_GRACE_SECONDS > 5 + 30, 'grace covers the preStop sleep and the drain');
  assert.deepEqual(c.resources, { requests: { cpu: '200m' } });
  assert.equal(pod.initContainers, undefined);
  assert.equal(pod.volumes, undefined);
  const ann = d.spec!.template.metadata!.annotations!;
  assert.equal(ann['prometheus.io/scrape'], 'true');
  assert.equal(ann['prometheus.io/port'], '8888');
  assert.equal(ann['prometheus.io/path'], '/metrics');
  assert.match(ann[SPEC_HASH_ANNOTATION], /^[0-9a-f]{16}$/);
  assert.deepEqual(d.spec!.template.metadata!.labels, {
    'cortex.dev/api': 'iris',
    'app.kubernetes.io/managed-by': 'cortex-operator',
  });
  // a CPU API goes to the CPU pool, never onto the GPU nodes
  assert.deepEqual(pod.nodeSelector, { 'cortex.dev/node-pool': 'cpu' });
  assert.equal(pod.tolerations, undefined);
  assert.ok(!JSON.stringify(d).includes('undefined'));
});

test('Deployment: the runtime image flag when predictor.image is absent; env sorted; rolling update numbers', () => {
  const a = api({
    predictor: {
      type: 'python',
      path: 'p.py',
      env: { B: '2', A: '1' },
      bundle: { configMaps: ['iris-0'], sha256: 'a'.repeat(64) },
    },
    updateStrategy: { maxSurge: 0, maxUnavailable: 1 },
  });
  const d = desiredDeployment(a, config(a));
  const c = d.spec!.template.spec!.containers[0];
  assert.equal(c.image, 'cortex/runtime:test');
  assert.deepEqual(c.env, [
    { name: 'A', value: '1' },
    { name: 'B', value: '2' },
    { name: RUNTIME_SPEC_ENV, value: runtimeSpecJson(a) },
  ]);
  assert.deepEqual(d.spec?.strategy?.rollingUpdate, { maxSurge: 0, maxUnavailable: 1 });
});

test('Deployment: bundle ConfigMaps are projected in order and unpacked by an init container', () => {
  const sha = 'b'.repeat(64);
  const a = api({
    predictor: { type: 'python', path: 'p.py', bundle: { configMaps: ['iris-b0', 'iris-b1', 'iris-b2'], sha256: sha } },
  });
  const d = deploymentReconciler.desired(a, config(a));
  const pod = d.spec!.template.spec!;
  const bundle = pod.volumes!.find((v) => v.name === 'bundle')!;
  assert.deepEqual(
    bundle.projected!.sources!.map((s) => [s.configMap!.name, s.configMap!.items]),
    [
      ['iris-b0', [{ key: 'bundle.tgz', path: 'part-000' }]],
      ['iris-b1', [{ key: 'bundle.tgz', path: 'part-001' }]],
      ['iris-b2', [{ key: 'bundle.tgz', path: 'part-002' }]],
    ],
  );
  assert.deepEqual(
    pod.volumes!.find((v) => v.name === 'project'),
    { name: 'project', emptyDir: {} },
  );
  const init = pod.initContainers![0];
  assert.equal(init.image, pod.containers[0].image);
  assert.deepEqual(init.env, [{ name: 'CORTEX_BUNDLE_SHA256', value: sha }]);
  assert.equal(init.command?.[2], UNPACK_SCRIPT);
  assert.match(UNPACK_SCRIPT, /sha256sum -c/);
  assert.deepEqual(init.volumeMounts, [
    { name: 'bundle', mountPath: '/mnt/bundle', readOnly: true },
    { name: 'project', mountPath: '/mnt/project' },
  ]);
  assert.deepEqual(pod.containers[0].volumeMounts, [{ name: 'project', mountPath: '/mnt/project' }]);
  assert.equal(d.spec!.template.metadata!.annotations![BUNDLE_HASH_ANNOTATION], sha);
  assert.equal(bundlePart(12), 'part-012');
  assert.ok(
    ['part-009', 'part-010', 'part-002'].sort().join() === 'part-002,part-009,part-010',
    'the glob order is the bundle order',
  );
});

test('Deployment: GPU APIs go to the GPU pool with its toleration and the GPU limit; memory limit = request', () => {
  const a = api({ compute: { cpu: 2, gpu: 1, mem: '4Gi' } });
  const d = desiredDeployment(a, config(a));
  const pod = d.spec!.template.spec!;
  assert.deepEqual(pod.nodeSelector, { 'cortex.dev/node-pool': 'gpu' });
  assert.deepEqual(pod.tolerations, [
    { key: 'nvidia.com/gpu', operator: 'Equal', value: 'present', effect: 'NoSchedule' },
  ]);
  assert.deepEqual(pod.containers[0].resources, {
    requests: { cpu: '2', memory: '4Gi' },
    limits: { memory: '4Gi', 'nvidia.com/gpu': '1' },
  });
});

test(
  'Deployment: without predictor.image a GPU API runs the GPU runtime image, ' +
    'a CPU API the runtime image; predictor.image wins',
  () => {
    const bundle = { configMaps: ['cortex-bundle-0123456789abcdef-0'], sha256: 'a'.repeat(64) };
    const gpu = api({ predictor: { type: 'python', path: 'predictor.py', bundle }, compute: { gpu: 1 } });
    const cpu = api({ predictor: { type: 'python', path: 'predictor.py', bundle } });
    const withGpuImage = (a: ApiInstance) => ({ ...config(a), gpuRuntimeImage: 'cortex/runtime:test-gpu' });
    assert.equal(
      desiredDeployment(gpu, withGpuImage(gpu)).spec!.template.spec!.containers[0].image,
      'cortex/runtime:test-gpu',
    );
    assert.equal(
      desiredDeployment(cpu, withGpuImage(cpu)).spec!.template.spec!.containers[0].image,
      'cortex/runtime:test',
    );
    assert.equal(
      desiredDeployment(gpu, config(gpu)).spec!.template.spec!.containers[0].image,
      'cortex/runtime:test',
      'no GPU image configured: the runtime image',
    );
    const own = api({ compute: { gpu: 1 } });
    assert.equal(
      desiredDeployment(own, withGpuImage(own)).spec!.template.spec!.containers[0].image,
      'registry.example.com/iris:1',
    );
  },
);

test('Deployment: a pool with another GPU resource name is requested by that name', () => {
  const pools: NodePool[] = [
    { name: 'amd', nodeSelector: { pool: 'amd' }, tolerations: [], gpuResource: 'amd.com/gpu' },
  ];
  const a = api({ compute: { gpu: 2 } });
  const d = desiredDeployment(a, config(a, pools));
  assert.deepEqual(d.spec!.template.spec!.containers[0].resources!.limits, { 'amd.com/gpu': '2' });
});

test('Deployment: several pools become a node affinity with one term per pool', () => {
  const pools: NodePool[] = [
    { name: 'a', nodeSelector: { pool: 'a' }, tolerations: [{ key: 'k', operator: 'Exists' }] },
    { name: 'b', nodeSelector: { pool: 'b', zone: 'z1' }, tolerations: [{ key: 'k', operator: 'Exists' }] },
  ];
  const a = api({ compute: { nodeGroups: ['a', 'b'] } });
  const pod = desiredDeployment(a, config(a, pools)).spec!.template.spec!;
  assert.equal(pod.nodeSelector, undefined);
  assert.deepEqual(pod.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms, [
    { matchExpressions: [{ key: 'pool', operator: 'In', values: ['a'] }] },
    {
      matchExpressions: [
        { key: 'pool', operator: 'In', values: ['b'] },
        { key: 'zone', operator: 'In', values: ['z1'] },
      ],
    },
  ]);
  assert.deepEqual(pod.tolerations, [{ key: 'k', operator: 'Exists' }], 'tolerations deduplicated');
});

test('Deployment: a spec change the runtime reads changes the template; an autoscaling change does not', () => {
  const base = api({});
  const hash = (a: ApiInstance) =>
    desiredDeployment(a, config(a)).spec!.template.metadata!.annotations![SPEC_HASH_ANNOTATION];
  assert.notEqual(
    hash(
      api({
        predictor: {
          type: 'python',
          path: 'predictor.py',
          image: 'registry.example.com/iris:1',
          processesPerReplica: 2,
        },
      }),
    ),
    hash(base),
  );
  assert.equal(hash(api({ autoscaling: { maxReplicas: 7 } })), hash(base));
  // every field the runtime reads changes the template (and so rolls the replicas)
  const template = (a: ApiInstance) => JSON.stringify(desiredDeployment(a, config(a)).spec!.template);
  const withPredictor = (p: Record<string, unknown>) =>
    api({ predictor: { type: 'python', path: 'predictor.py', image: 'registry.example.com/iris:1', ...p } });
  const changes: ApiInstance[] = [
    withPredictor({ config: { k: 1 } }),
    withPredictor({ threadsPerProcess: 2 }),
    withPredictor({ logLevel: 'debug' }),
    withPredictor({ serverSideBatching: { maxBatchSize: 2, batchInterval: '10ms' } }),
    api({ autoscaling: { maxReplicaConcurrency: 5 } }),
  ];
  for (const changed of changes) {
    assert.notEqual(template(changed), template(base));
    assert.notEqual(hash(changed), hash(base));
  }
  assert.equal(template(api({ autoscaling: { maxReplicas: 7, window: '30s' } })), template(base));
});

test('Deployment: the container hands cortex serve the defaulted spec it runs (CORTEX_API_SPEC)', () => {
  const a = api({
    predictor: {
      type: 'typescript',
      path: 'src/predictor.ts',
      image: 'registry.example.com/iris:1',
      config: { model: 's3://bucket/iris', labels: ['a', 'b'] },
      threadsPerProcess: 4,
      serverSideBatching: { maxBatchSize: 8, batchInterval: '20ms' },
    },
    autoscaling: { maxReplicaConcurrency: 12, maxReplicas: 9 },
  });
  const c = desiredDeployment(a, config(a)).spec!.template.spec!.containers[0];
  assert.deepEqual(c.command?.slice(0, 5), ['cortex', 'serve', '/mnt/project', '--api', 'iris']);
  const env = c.env?.find((e) => e.name === RUNTIME_SPEC_ENV);
  assert.ok(env?.value);
  const parsed = JSON.parse(env.value);
  assert.deepEqual(parsed.metadata, { name: 'iris' }, 'no namespace: a copy in another namespace runs the same pods');
  assert.deepEqual(Object.keys(parsed.spec.autoscaling), ['maxReplicaConcurrency'], 'the HPA fields stay out');
  // what cortex serve builds from it: the operator's defaulted spec, field for field
  const served = parseRuntimeSpec(env.value, 'iris');
  assert.equal(served.name, 'iris');
  assert.deepEqual(served.spec.predictor, a.spec.predictor);
  assert.equal(served.spec.autoscaling.maxReplicaConcurrency, 12);
});

test('Deployment: the node dependency cache is a hostPath, made shareable by a root init container', () => {
  const a = api({ predictor: { type: 'python', path: 'p.py', env: { CORTEX_CACHE_DIR: '/mine', A: '1' } } });
  const without = desiredDeployment(a, config(a)).spec!.template.spec!;
  assert.equal(without.volumes, undefined, 'no cache configured: no volume');
  assert.equal(without.containers[0].env?.find((e) => e.name === 'CORTEX_CACHE_DIR')?.value, '/mine');

  const cache = { hostPath: '/var/lib/cortex/dependency-cache', maxSize: '20Gi' };
  const pod = desiredDeployment(a, { ...config(a), dependencyCache: cache }).spec!.template.spec!;
  assert.deepEqual(pod.volumes, [
    { name: 'dependency-cache', hostPath: { path: cache.hostPath, type: 'DirectoryOrCreate' } },
  ]);
  const c = pod.containers[0];
  assert.deepEqual(c.volumeMounts, [{ name: 'dependency-cache', mountPath: DEPENDENCY_CACHE_DIR }]);
  // the operator's variables win over predictor.env, and each name appears once (an SSA list key)
  const names = c.env!.map((e) => e.name);
  assert.equal(new Set(names).size, names.length);
  assert.equal(c.env!.find((e) => e.name === 'CORTEX_CACHE_DIR')?.value, DEPENDENCY_CACHE_DIR);
  assert.equal(c.env!.find((e) => e.name === 'CORTEX_CACHE_MAX_SIZE')?.value, '20Gi');
  assert.equal(c.env!.find((e) => e.name === 'A')?.value, '1');
  const init = pod.initContainers?.find((i) => i.name === 'dependency-cache');
  assert.deepEqual(init?.command, ['sh', '-c', CACHE_PERMISSIONS_SCRIPT]);
  assert.equal(init?.securityContext?.runAsUser, 0);
  assert.equal(init?.image, c.image);
});

test('Deployment: a spec that does not fit an environment variable is an issue for the status', () => {
  const small = api({});
  assert.equal(runtimeSpecIssue(runtimeSpecJson(small)), undefined);
  const huge = api({
    predictor: {
      type: 'python',
      path: 'predictor.py',
      image: 'registry.example.com/iris:1',
      config: { blob: 'x'.repeat(RUNTIME_SPEC_MAX_BYTES) },
    },
  });
  const issue = runtimeSpecIssue(runtimeSpecJson(huge));
  assert.deepEqual(issue?.path, ['predictor', 'config']);
  assert.match(issue!.message, /^makes the settings handed to every replica 97 KiB as JSON .*over the 96 KiB/);
});

test('Deployment: initReplicas only in the create request', () => {
  const a = api({ autoscaling: { minReplicas: 2, initReplicas: 3, maxReplicas: 5 } });
  const create = deepMerge(
    deploymentReconciler.desired(a, config(a)) as never,
    deploymentReconciler.onCreate!(a, config(a)),
  ) as { spec: { replicas: number; template: unknown } };
  assert.equal(create.spec.replicas, 3);
  assert.ok(create.spec.template, 'deepMerge keeps the rest of the spec');
  assert.equal(deploymentReconciler.desired(a, config(a)).spec?.replicas, undefined);
});

test('Deployment: models.storage.secret becomes envFrom; each pvc:// claim a read-only volume where the runtime reads it', () => {
  const a = api({
    predictor: {
      type: 'python',
      path: 'p.py',
      models: {
        paths: [
          { name: 'a', path: 'pvc://models-claim/iris/1' },
          { name: 'b', path: 'pvc://models-claim/other' },
          { name: 'c', path: 's3://bucket/c' },
        ],
        storage: { secret: 'model-credentials' },
      },
    },
  });
  const pod = desiredDeployment(a, config(a)).spec!.template.spec!;
  const c = pod.containers[0];
  assert.deepEqual(c.envFrom, [{ secretRef: { name: 'model-credentials' } }]);
  assert.deepEqual(pod.volumes, [
    { name: 'model-pvc-0', persistentVolumeClaim: { claimName: 'models-claim', readOnly: true } },
  ]);
  assert.deepEqual(c.volumeMounts, [
    { name: 'model-pvc-0', mountPath: '/mnt/cortex-pvc/models-claim', readOnly: true },
  ]);
  assert.equal(JSON.stringify(pod).includes('AWS_'), false, 'no credential in the Deployment');
  const plain = api({ predictor: { type: 'python', path: 'p.py' } });
  assert.equal(desiredDeployment(plain, config(plain)).spec!.template.spec!.containers[0].envFrom, undefined);
});
