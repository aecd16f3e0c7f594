// Cortex 0.36-0.42's container format (pod:) read from cortex.yaml as written for Cortex.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPodApi } from '../../operator/api/v1alpha1/index.ts';
import { failing, project } from './fixtures.ts';
import { loadProject } from './load.ts';

const V042 = `
- name: text-generator
  kind: RealtimeAPI
  pod:
    port: 9000
    max_concurrency: 2
    max_queue_length: 10
    containers:
      - name: api
        image: example.com/generator:1
        command: ["python", "serve.py"]
        args: ["--port", "$(CORTEX_PORT)"]
        env:
          WORKERS: 2
        compute:
          cpu: 1
          gpu: 1
          inf: 0
          mem: 2Gi
          shm: 128Mi
        readiness_probe:
          http_get:
            port: 9000
            path: /healthz
          period_seconds: 2
        liveness_probe:
          tcp_socket:
            port: 9000
        pre_stop:
          exec:
            command: ["sleep", "1"]
      - name: cache
        image: example.com/cache:1
  node_groups: [gpu]
  autoscaling:
    min_replicas: 0
    target_in_flight: 3
  networking:
    endpoint: generate
`;

test('a Cortex 0.42 pod API loads unchanged: every field lands in the spec', () => {
  const [api] = loadProject(project({ 'cortex.yaml': V042 })).apis;
  assert.ok(isPodApi(api.spec));
  const { pod, compute, autoscaling } = api.spec;
  assert.deepEqual([pod.port, pod.maxConcurrency, pod.maxQueueLength], [9000, 2, 10]);
  const [server, cache] = pod.containers;
  assert.deepEqual(server.command, ['python', 'serve.py']);
  assert.deepEqual(server.args, ['--port', '$(CORTEX_PORT)']);
  assert.deepEqual(server.env, { WORKERS: '2' });
  assert.deepEqual(server.compute, { cpu: 1, gpu: 1, mem: '2Gi', shm: '128Mi' }, 'inf: 0 is accepted and dropped');
  assert.deepEqual(server.readinessProbe?.httpGet, { port: 9000, path: '/healthz' });
  assert.equal(server.readinessProbe?.periodSeconds, 2);
  assert.deepEqual(server.livenessProbe?.tcpSocket, { port: 9000 });
  assert.deepEqual(server.preStop, { exec: { command: ['sleep', '1'] } });
  assert.deepEqual(cache.compute, { cpu: '200m', gpu: 0 });
  assert.deepEqual(compute.nodeGroups, ['gpu'], 'node_groups at the top level (0.36+)');
  assert.equal(autoscaling.targetReplicaConcurrency, 3, 'target_in_flight');
  assert.equal(autoscaling.minReplicas, 0);
  assert.equal(api.spec.networking.endpoint, '/generate');
  assert.equal(api.spec.predictor, undefined);
});

test("a pod API's mistakes are reported at their line with the field as written and a fix", () => {
  const err = failing(
    [
      '- name: bad',
      '  kind: RealtimeAPI',
      '  pod:',
      '    port: 15000',
      '    containers:',
      '      - name: api',
      '        image: example.com/x:1',
      '        compute: {inf: 1, memory: 1Gi}',
      '        readiness_probe: {http_get: {port: 9000}, exec: {command: [sh]}}',
      '  node_groups: [a]',
      '  compute: {node_groups: [b]}',
      '  autoscaling: {max_replica_concurrency: 10, target_in_flight: 2, target_replica_concurrency: 2}',
      '',
    ].join('\n'),
  );
  const found = err.issues.map((i) => [i.line, i.field, i.message]);
  assert.deepEqual(found, [
    [4, 'pod.port', "must not be 15000: Cortex's proxy listens on 8888 and 15000 in every replica"],
    [8, 'pod.containers.0.compute.inf', 'not supported: compute.inf (AWS Inferentia chips)'],
    [8, 'pod.containers.0.compute.memory', 'unknown field "memory" under pod.containers.0.compute'],
    [9, 'pod.containers.0.readiness_probe', 'sets http_get and exec; only one is allowed'],
    [10, 'node_groups', 'is set twice: here (Cortex 0.36+) and as compute.node_groups (before 0.36)'],
    [
      12,
      'autoscaling.max_replica_concurrency',
      'does not apply to an API with pod: its proxy admits pod.max_concurrency and queues pod.max_queue_length',
    ],
    [
      12,
      'autoscaling.target_in_flight',
      'is set together with target_replica_concurrency, its name before Cortex 0.36',
    ],
  ]);
});

test('an API with neither predictor nor pod is told about both', () => {
  const err = failing('- name: none\n  kind: RealtimeAPI\n');
  assert.equal(err.issues.length, 1);
  assert.equal(err.issues[0].message, 'is required (or pod, to serve your own containers)');
});
