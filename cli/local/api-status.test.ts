import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiStatus, publicReason, unsnap, type RunnerView } from './api-status.ts';
import type { ReplicaProcess } from './replica.ts';
import type { VersionRecord } from './state.ts';

test("a replica's error names the project's files, not the snapshot's (as cortex deploy's error did)", () => {
  const version = { snapshot: '/home/u/.cortex/snapshots/ab12', source: '/home/u/iris' } as VersionRecord;
  assert.equal(
    unsnap(
      'predictor failed to initialise: /home/u/.cortex/snapshots/ab12/predictor.py does not define a class',
      version,
    ),
    'predictor failed to initialise: /home/u/iris/predictor.py does not define a class',
  );
  assert.equal(unsnap('ValueError: bad', version), 'ValueError: bad');
});

/** A version of `hash` asking for `replicas` replicas (only what the status reads). */
function version(hash: string, replicas: number): VersionRecord {
  return {
    hash,
    snapshot: `/home/u/.cortex/snapshots/${hash}`,
    source: '/home/u/iris',
    spec: { autoscaling: { minReplicas: replicas }, networking: { endpoint: '/iris' } },
  } as VersionRecord;
}

function replica(id: string, state: string, error?: string): ReplicaProcess {
  return { id, state, error, restarts: 0, options: { logFile: `/logs/${id}.log` } } as unknown as ReplicaProcess;
}

function view(over: Partial<RunnerView>): RunnerView {
  return {
    name: 'iris',
    endpoint: '/iris',
    record: { name: 'iris', createdAt: '2026-01-01T00:00:00.000Z' },
    current: undefined,
    next: undefined,
    draining: new Map(),
    deleted: false,
    ...over,
  };
}

test('an update in progress: get says how far the new version is, clients that it is starting', () => {
  const v1 = version('aaaaaaaa11', 1);
  const v2 = version('bbbbbbbb22', 2);
  const v = view({
    current: { version: v1, replicas: [replica('iris-1', 'ready')] },
    next: { version: v2, replicas: [replica('iris-2', 'ready'), replica('iris-3', 'starting')] },
  });
  const status = apiStatus(v);
  assert.equal(status.status, 'updating');
  assert.equal(status.reason, 'updating to version bbbbbbbb: 1/2 replicas ready');
  assert.deepEqual([status.requested, status.ready, status.upToDate], [2, 1, 1]);
  assert.deepEqual(
    status.replicas.map((r) => [r.id, r.role, r.version]),
    [
      ['iris-1', 'current', 'aaaaaaaa'],
      ['iris-2', 'next', 'bbbbbbbb'],
      ['iris-3', 'next', 'bbbbbbbb'],
    ],
  );
  assert.equal(publicReason(v), 'it is starting (1/2 replicas ready)');
});

test("a failing replica: get shows its error with the project's paths; clients never see it", () => {
  const v1 = version('aaaaaaaa11', 1);
  const error = `ValueError: password=hunter2 in ${v1.snapshot}/predictor.py`;
  const v = view({ current: { version: v1, replicas: [replica('iris-1', 'starting', error)] } });
  const status = apiStatus(v);
  assert.equal(status.status, 'error');
  assert.equal(status.reason, 'ValueError: password=hunter2 in /home/u/iris/predictor.py');
  assert.equal(publicReason(v), 'the API failed to start; see cortex logs iris / cortex get iris');
  assert.doesNotMatch(publicReason(v), /hunter2/);
});

test('a first version that failed, and a deleted API', () => {
  const failure = { hash: 'cccccccc33', reason: 'not ready after 600 s', at: '2026-01-01T00:01:00.000Z' };
  const failed = view({ record: { name: 'iris', createdAt: '2026-01-01T00:00:00.000Z', failure } });
  assert.deepEqual([apiStatus(failed).status, apiStatus(failed).reason], ['error', 'not ready after 600 s']);
  assert.equal(apiStatus(failed).lastDeployError, undefined, 'only shown while another version runs');
  assert.equal(publicReason(failed), 'its first version failed to start; see cortex get iris');
  assert.equal(publicReason(view({ deleted: true })), 'it is being deleted');
});
