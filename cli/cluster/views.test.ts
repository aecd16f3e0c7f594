import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import type { RealtimeApi } from '../../operator/api/v1alpha1/index.ts';
import { CliError } from '../errors.ts';
import type { LoadedProject } from '../config/index.ts';
import { splitTimestamp } from './logs.ts';
import { realtimeApis } from './manifests.ts';
import { podView, viewOf } from './status.ts';
import { progressLabel } from './wait.ts';

const api = (status: RealtimeApi['status'], generation = 2): RealtimeApi => ({
  apiVersion: 'cortex.dev/v1alpha1',
  kind: 'RealtimeAPI',
  metadata: { name: 'iris', namespace: 'ml', uid: 'u', generation, creationTimestamp: '2026-11-25T10:00:00Z' },
  spec: { networking: { endpoint: '/iris' } } as RealtimeApi['spec'],
  ...(status ? { status } : {}),
});

test('a status written for an older generation reads as updating, not as the old word', () => {
  const stale = api({
    observedGeneration: 1,
    status: 'live',
    replicas: { requested: 1, ready: 1, updated: 1, available: 1 },
  });
  assert.equal(viewOf(stale).status, 'updating');
  assert.equal(viewOf(stale).stale, true);
  assert.equal(progressLabel(stale, 2), 'waiting for the operator to pick up the change');
  const current = api({
    observedGeneration: 2,
    status: 'live',
    replicas: { requested: 2, ready: 2, updated: 2, available: 2 },
    endpoint: 'http://iris.ml.svc.cluster.local/',
  });
  assert.deepEqual(viewOf(current), {
    name: 'iris',
    namespace: 'ml',
    status: 'live',
    requested: 2,
    ready: 2,
    upToDate: 2,
    lastUpdate: '2026-11-25T10:00:00Z',
    endpoint: 'http://iris.ml.svc.cluster.local/',
    path: '/iris',
    stale: false,
  });
  assert.equal(progressLabel(current, 2), 'live (2/2 ready, 2/2 up to date)');
});

test('the rollout label carries the reason an API is stuck', () => {
  const stuck = api({
    observedGeneration: 2,
    status: 'compute unavailable',
    message: '0/4 nodes are available: 4 Insufficient nvidia.com/gpu',
    replicas: { requested: 1, ready: 0, updated: 1, available: 0 },
  });
  assert.equal(
    progressLabel(stuck, 2),
    'compute unavailable: 0/1 ready, 1/1 up to date — 0/4 nodes are available: 4 Insufficient nvidia.com/gpu',
  );
});

test("a pod view names the waiting reason, or the scheduler's message when unscheduled", () => {
  const crashing = {
    metadata: { name: 'iris-1' },
    spec: { nodeName: 'kwok-cpu-0' },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'False' }],
      containerStatuses: [{ name: 'api', restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } } }],
    },
  } as unknown as V1Pod;
  assert.deepEqual(podView(crashing), {
    name: 'iris-1',
    phase: 'Running',
    ready: false,
    restarts: 3,
    node: 'kwok-cpu-0',
    reason: 'CrashLoopBackOff',
  });
  const pending = {
    metadata: { name: 'iris-2' },
    status: {
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'False', message: '0/4 nodes are available' }],
    },
  } as unknown as V1Pod;
  assert.equal(podView(pending).reason, '0/4 nodes are available');
});

test('log lines reopened from a timestamp are split from it; lines without one are kept whole', () => {
  assert.deepEqual(splitTimestamp('2026-11-25T14:01:02.123456789Z {"message":"ready"}'), [
    '2026-11-25T14:01:02.123456789Z',
    '{"message":"ready"}',
  ]);
  assert.deepEqual(splitTimestamp('plain text line'), [undefined, 'plain text line']);
});

test('--no-bundle needs predictor.image on every API, and says which lack it', () => {
  const project = {
    file: '/p/cortex.yaml',
    dir: '/p',
    warnings: [],
    apis: [
      { name: 'a', kind: 'RealtimeAPI', line: 1, spec: { predictor: { image: 'r/a:1' } } },
      { name: 'b', kind: 'RealtimeAPI', line: 5, spec: { predictor: {} } },
    ],
    jobApis: [],
  } as unknown as LoadedProject;
  assert.throws(
    () => realtimeApis(project, undefined, 'ml'),
    (e: unknown) => e instanceof CliError && e.exitCode === 2 && /but b has no predictor\.image/.test(e.message),
  );
  const withBundle = realtimeApis(project, { configMaps: ['cortex-bundle-x-0'], sha256: 'f'.repeat(64) }, undefined);
  assert.equal(withBundle[1].metadata.namespace, undefined, 'no namespace when none is given (kubectl -n decides)');
  assert.deepEqual(withBundle[1].spec.predictor?.bundle, { configMaps: ['cortex-bundle-x-0'], sha256: 'f'.repeat(64) });
});
