import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyDefaults, gpusPerReplica, isPodApi, validateSpec, type RealtimeApiSpecInput } from './index.ts';

const POD: RealtimeApiSpecInput = { pod: { containers: [{ name: 'server', image: 'example.com/server:1' }] } };

function issues(spec: RealtimeApiSpecInput) {
  return validateSpec(applyDefaults('pod-api', spec)).map((i) => `${i.path.join('.')}: ${i.message}`);
}

test("a pod API's defaults are Cortex 0.42's (port 8080, queue 100, target_in_flight = max_concurrency)", () => {
  const spec = applyDefaults('pod-api', { pod: { maxConcurrency: 4, containers: [{ name: 's', image: 'i' }] } });
  assert.deepEqual(validateSpec(spec), []);
  assert.ok(isPodApi(spec));
  assert.equal(spec.pod.port, 8080);
  assert.equal(spec.pod.maxQueueLength, 100);
  assert.equal(spec.autoscaling.targetReplicaConcurrency, 4, "target_in_flight's default");
  assert.deepEqual(spec.pod.containers[0].compute, { cpu: '200m', gpu: 0 });
  assert.deepEqual(spec.pod.containers[0].env, {});
  const given = applyDefaults('pod-api', { ...POD, autoscaling: { targetReplicaConcurrency: 2.5 } });
  assert.equal(given.autoscaling.targetReplicaConcurrency, 2.5);
});

test('exactly one of predictor and pod', () => {
  assert.deepEqual(issues({}), ['predictor: is required (or pod, to serve your own containers)']);
  const both = issues({ ...POD, predictor: { type: 'python', path: 'p.py', image: 'x' } });
  assert.deepEqual(both, [
    'pod: is set together with predictor: an API serves either a predictor class or its own containers',
  ]);
});

test("one handler per probe and pre_stop; liveness success_threshold 1; the proxy's ports and name are taken", () => {
  const found = issues({
    pod: {
      port: 8888,
      containers: [
        {
          name: 'a',
          image: 'i',
          readinessProbe: { httpGet: { port: 8080 }, tcpSocket: { port: 8080 } },
          livenessProbe: { exec: { command: ['true'] }, successThreshold: 2 },
          preStop: {},
        },
        { name: 'a', image: 'i' },
        { name: 'cortex-proxy', image: 'i' },
      ],
    },
  });
  assert.deepEqual(found.sort(), [
    'pod.containers.0.livenessProbe.successThreshold: must be 1 for a liveness probe (got 2; a Kubernetes rule)',
    'pod.containers.0.preStop: needs one of httpGet, exec',
    'pod.containers.0.readinessProbe: sets httpGet and tcpSocket; only one is allowed',
    'pod.containers.1.name: duplicate container name "a" (also container 0)',
    "pod.containers.2.name: cortex-proxy is the name of Cortex's proxy container",
    "pod.port: must not be 8888: Cortex's proxy listens on 8888 and 15000 in every replica",
  ]);
});

test("with pod, GPUs belong to containers: compute.gpu is refused, the replica's GPUs are the containers' sum", () => {
  assert.deepEqual(issues({ ...POD, compute: { gpu: 1 } }), [
    "compute.gpu: must be 0 with pod (it would give the GPUs to Cortex's proxy)",
  ]);
  const spec = applyDefaults('pod-api', {
    pod: {
      containers: [
        { name: 'a', image: 'i', compute: { gpu: 2 } },
        { name: 'b', image: 'i', compute: { gpu: 1 } },
      ],
    },
  });
  assert.equal(gpusPerReplica(spec), 3);
});

test('pod fields are checked inside the list of containers: names, quantities, env names, unknown fields', () => {
  const found = issues({ pod: { containers: [] } });
  assert.equal(found.length, 1);
  assert.match(found[0], /^pod.containers: /);
  const container = { name: 'Web_1', image: 'i', compute: { mem: 'lots' }, env: { '1A': 'x' }, bogus: 1 };
  const bad = issues({ pod: { containers: [container as never] } });
  assert.equal(bad.length, 4, bad.join('\n'));
  assert.ok(bad.some((i) => i.startsWith('pod.containers.0.name: ')));
  assert.ok(
    bad.includes('pod.containers.0.compute.mem: must be a memory quantity such as 200M, 512Mi or 2Gi (got "lots")'),
  );
  assert.ok(bad.includes('pod.containers.0.env.1A: "1A" is not a valid environment variable name'));
  assert.ok(bad.includes('pod.containers.0.bogus: unknown field'));
});
