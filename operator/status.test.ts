import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Deployment, V1Pod, V1ContainerStatus } from '@kubernetes/client-node';
import { deriveStatus, podProblem, rollout, statusChanged, type Observed } from './status.ts';

const NOW = new Date('2026-11-25T10:00:00.123Z');

function deployment(
  over: {
    generation?: number;
    observedGeneration?: number;
    replicas?: number;
    ready?: number;
    updated?: number;
    available?: number;
    total?: number;
    conditions?: object[];
  } = {},
): V1Deployment {
  const r = over.replicas ?? 2;
  return {
    metadata: { name: 'iris', namespace: 'ml', generation: over.generation ?? 4 },
    spec: { replicas: r, selector: {}, template: {}, progressDeadlineSeconds: 600 },
    status: {
      observedGeneration: over.observedGeneration ?? over.generation ?? 4,
      replicas: over.total ?? r,
      readyReplicas: over.ready ?? r,
      updatedReplicas: over.updated ?? r,
      availableReplicas: over.available ?? r,
      conditions: over.conditions as never,
    },
  } as V1Deployment;
}

function pod(
  name: string,
  opts: {
    ready?: boolean;
    containers?: V1ContainerStatus[];
    init?: V1ContainerStatus[];
    scheduled?: { status: string; reason?: string; message?: string };
    deleting?: boolean;
  } = {},
): V1Pod {
  const conditions: object[] = [{ type: 'Ready', status: opts.ready ? 'True' : 'False' }];
  if (opts.scheduled) conditions.push({ type: 'PodScheduled', ...opts.scheduled });
  return {
    metadata: {
      name,
      namespace: 'ml',
      labels: { 'cortex.dev/api': 'iris' },
      deletionTimestamp: opts.deleting ? ('2026-11-25T09:00:00Z' as never) : undefined,
    },
    status: { conditions: conditions as never, containerStatuses: opts.containers, initContainerStatuses: opts.init },
  } as V1Pod;
}

function container(state: object, lastState: object = {}, image = 'registry.example.com/iris:1'): V1ContainerStatus {
  return { name: 'api', image, imageID: '', ready: false, restartCount: 1, state, lastState } as V1ContainerStatus;
}

function observed(over: Partial<Observed>): Observed {
  return {
    name: 'iris',
    namespace: 'ml',
    generation: 7,
    endpoint: 'http://iris.ml.svc.cluster.local/',
    pods: [],
    now: NOW,
    ...over,
  };
}

test('all replicas updated and ready: live, Ready=True, observedGeneration, ready 2/2, endpoint', () => {
  const s = deriveStatus(
    observed({ deployment: deployment(), pods: [pod('a', { ready: true }), pod('b', { ready: true })] }),
  );
  assert.equal(s.status, 'live');
  assert.equal(s.observedGeneration, 7);
  assert.equal(s.ready, '2/2');
  assert.deepEqual(s.replicas, { requested: 2, ready: 2, updated: 2, available: 2 });
  assert.equal(s.endpoint, 'http://iris.ml.svc.cluster.local/');
  assert.equal(s.message, undefined);
  const ready = s.conditions!.find((c) => c.type === 'Ready')!;
  assert.deepEqual([ready.status, ready.reason, ready.observedGeneration], ['True', 'Live', 7]);
  assert.equal(ready.lastTransitionTime, '2026-11-25T10:00:00Z', 'RFC 3339 seconds, like metav1.Time');
  const progressing = s.conditions!.find((c) => c.type === 'Progressing')!;
  assert.deepEqual([progressing.status, progressing.reason], ['False', 'RolloutComplete']);
});

test("a model's new version failing on a replica (its /metrics): live, Ready True, the message says where", () => {
  const s = deriveStatus(
    observed({
      deployment: deployment(),
      pods: [pod('iris-a', { ready: true }), pod('iris-b', { ready: true })],
      reloadFailing: [{ pod: 'iris-b', models: ['(path)'] }],
    }),
  );
  assert.equal(s.status, 'live');
  assert.equal(
    s.message,
    'the new version of model (path) failed to download or load on pod iris-b; ' +
      'the previous version keeps serving (the reason: cortex logs iris)',
  );
  const ready = s.conditions!.find((c) => c.type === 'Ready')!;
  assert.deepEqual([ready.status, ready.reason], ['True', 'ModelReloadFailing']);
  const healed = deriveStatus(observed({ deployment: deployment(), reloadFailing: [{ pod: 'iris-b', models: [] }] }));
  assert.equal(healed.message, undefined);
  assert.equal(healed.conditions!.find((c) => c.type === 'Ready')!.reason, 'Live');
});

test('a Deployment whose new generation is not observed yet, or with old replicas left, is updating', () => {
  assert.equal(
    deriveStatus(observed({ deployment: deployment({ generation: 5, observedGeneration: 4 }) })).status,
    'updating',
  );
  const s = deriveStatus(observed({ deployment: deployment({ replicas: 3, updated: 1, ready: 3, total: 4 }) }));
  assert.equal(s.status, 'updating');
  assert.equal(s.ready, '3/3');
  assert.match(s.message!, /1 up to date/);
  assert.deepEqual(
    s.conditions!.map((c) => [c.type, c.status, c.reason]),
    [
      ['Ready', 'False', 'Updating'],
      ['Progressing', 'True', 'RollingOut'],
    ],
  );
  assert.equal(deriveStatus(observed({})).message, 'creating the replicas');
  assert.equal(rollout(deployment({ replicas: 2, total: 3 })).complete, false, 'an old replica still runs');
});

test('ImagePullBackOff / ErrImagePull → error (image pull), with the kubelet message', () => {
  for (const reason of ['ImagePullBackOff', 'ErrImagePull']) {
    const p = pod('a', {
      containers: [
        container(
          { waiting: { reason, message: 'Back-off pulling image "registry.example.com/nope:1"' } },
          {},
          'registry.example.com/nope:1',
        ),
      ],
    });
    const s = deriveStatus(observed({ deployment: deployment({ ready: 0, available: 0 }), pods: [p] }));
    assert.equal(s.status, 'error (image pull)');
    assert.match(s.message!, /cannot pull image registry.example.com\/nope:1: Back-off pulling/);
    assert.equal(s.conditions![0].reason, 'ImagePullFailed');
  }
});

test('OOMKilled (now or last time) → error (out of memory), before a crash loop', () => {
  const oom = pod('a', {
    containers: [
      container({ waiting: { reason: 'CrashLoopBackOff' } }, { terminated: { reason: 'OOMKilled', exitCode: 137 } }),
    ],
  });
  const s = deriveStatus(observed({ deployment: deployment({ ready: 1 }), pods: [oom, pod('b', { ready: true })] }));
  assert.equal(s.status, 'error (out of memory)');
  assert.match(s.message!, /container api of pod a ran out of memory/);
  assert.match(s.message!, /compute.mem/);
  const justKilled = pod('a', { containers: [container({ terminated: { reason: 'OOMKilled', exitCode: 137 } })] });
  assert.equal(podProblem([justKilled])?.word, 'error (out of memory)');
});

test('CrashLoopBackOff → error with the termination message (the failed __init__)', () => {
  const p = pod('a', {
    containers: [
      container(
        { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
        { terminated: { reason: 'Error', exitCode: 1, message: 'ModuleNotFoundError: No module named sklearn\n' } },
      ),
    ],
  });
  const s = deriveStatus(observed({ deployment: deployment({ ready: 0 }), pods: [p] }));
  assert.equal(s.status, 'error');
  assert.equal(s.message, 'container api of pod a keeps failing: ModuleNotFoundError: No module named sklearn');
  assert.equal(s.conditions![0].reason, 'ContainerFailing');
  // without a termination message: the exit code
  const bare = pod('a', {
    containers: [
      container({ waiting: { reason: 'CrashLoopBackOff' } }, { terminated: { reason: 'Error', exitCode: 3 } }),
    ],
  });
  assert.match(podProblem([bare])!.message, /exit code 3 \(Error\)/);
  // a failing init container (the bundle does not match) counts too
  const init = pod('a', {
    init: [
      {
        ...container(
          { waiting: { reason: 'CrashLoopBackOff' } },
          { terminated: { exitCode: 1, message: 'the bundle does not match' } },
        ),
        name: 'unpack-bundle',
      },
    ],
  });
  assert.match(
    podProblem([init])!.message,
    /init container unpack-bundle of pod a keeps failing: the bundle does not match/,
  );
});

test('unschedulable → compute unavailable with the scheduler message', () => {
  const msg =
    "0/4 nodes are available: 2 Insufficient nvidia.com/gpu, 2 node(s) didn't match Pod's node affinity/selector.";
  const p = pod('a', { scheduled: { status: 'False', reason: 'Unschedulable', message: msg } });
  const s = deriveStatus(observed({ deployment: deployment({ ready: 0, available: 0 }), pods: [p] }));
  assert.equal(s.status, 'compute unavailable');
  assert.equal(s.message, `no node can run pod a: ${msg}`);
  assert.equal(s.conditions![0].reason, 'Unschedulable');
});

test(
  'problems are ranked: image pull before OOM before crash before unschedulable; ' +
    'ready and terminating pods are ignored',
  () => {
    const pull = pod('p', { containers: [container({ waiting: { reason: 'ErrImagePull' } })] });
    const crash = pod('c', {
      containers: [container({ waiting: { reason: 'CrashLoopBackOff' } }, { terminated: { exitCode: 1 } })],
    });
    const unsched = pod('u', { scheduled: { status: 'False', reason: 'Unschedulable', message: 'no' } });
    assert.equal(podProblem([unsched, crash, pull])?.word, 'error (image pull)');
    assert.equal(podProblem([unsched, crash])?.word, 'error');
    const recovered = pod('r', {
      ready: true,
      containers: [container({ running: {} }, { terminated: { reason: 'OOMKilled', exitCode: 137 } })],
    });
    assert.equal(podProblem([recovered]), undefined, 'a ready pod that was once OOMKilled is fine');
    assert.equal(
      podProblem([pod('d', { deleting: true, containers: [container({ waiting: { reason: 'ErrImagePull' } })] })]),
      undefined,
    );
  },
);

test('a complete rollout is live even if an old pod is still going away with a problem', () => {
  const s = deriveStatus(
    observed({
      deployment: deployment(),
      pods: [
        pod('a', { ready: true }),
        pod('b', { ready: true }),
        pod('old', { deleting: true, containers: [container({ waiting: { reason: 'CrashLoopBackOff' } })] }),
      ],
    }),
  );
  assert.equal(s.status, 'live');
});

test('invalid spec, no fitting pool, failed apply: their own reasons', () => {
  const invalid = deriveStatus(observed({ invalidSpec: 'autoscaling.minReplicas: must be ≤ maxReplicas (2)' }));
  assert.equal(invalid.status, 'error');
  assert.equal(invalid.conditions![0].reason, 'InvalidSpec');
  const unavailable = deriveStatus(
    observed({ computeUnavailable: 'compute.gpu is 1, but no pool has GPUs', deployment: deployment() }),
  );
  assert.equal(unavailable.status, 'compute unavailable');
  assert.equal(unavailable.message, 'compute.gpu is 1, but no pool has GPUs');
  assert.equal(unavailable.ready, '2/2', 'the replicas that still run are counted');
  const apply = deriveStatus(
    observed({ applyError: 'Deployment ml/iris already exists and is not controlled by this RealtimeAPI' }),
  );
  assert.equal(apply.status, 'error');
  assert.equal(apply.conditions![0].reason, 'ApplyFailed');
});

test('Deployment conditions: ReplicaFailure and ProgressDeadlineExceeded are errors', () => {
  const quota = deriveStatus(
    observed({
      deployment: deployment({
        ready: 0,
        conditions: [
          {
            type: 'ReplicaFailure',
            status: 'True',
            reason: 'FailedCreate',
            message: 'pods "iris-x" is forbidden: exceeded quota',
          },
        ],
      }),
    }),
  );
  assert.equal(quota.status, 'error');
  assert.match(quota.message!, /exceeded quota/);
  const stalled = deriveStatus(
    observed({
      deployment: deployment({
        ready: 1,
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
      }),
    }),
  );
  assert.equal(stalled.status, 'error');
  assert.match(stalled.message!, /no progress for 600 s/);
});

test('lastTransitionTime changes only when a condition flips; statusChanged ignores key order', () => {
  const first = deriveStatus(observed({ deployment: deployment({ ready: 1 }) }));
  const later = new Date(NOW.getTime() + 60_000);
  const same = deriveStatus(observed({ deployment: deployment({ ready: 1 }), previous: first, now: later }));
  assert.deepEqual(same, first);
  assert.equal(statusChanged(first, same), false);
  const live = deriveStatus(observed({ deployment: deployment(), previous: first, now: later }));
  assert.equal(live.conditions![0].lastTransitionTime, '2026-11-25T10:01:00Z');
  assert.ok(statusChanged(first, live));
  const reordered = JSON.parse(JSON.stringify({ ready: first.ready, ...first }));
  assert.equal(statusChanged(first, reordered), false);
  assert.ok(statusChanged(undefined, first));
});
