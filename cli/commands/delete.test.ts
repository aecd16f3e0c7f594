import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Supervisor } from '../factory.ts';
import { apiStatus, cortex, fakeSupervisor, prodEnv, testFactory } from './testing.ts';

/** A supervisor running `iris` whose /delete answers `status` and `body`. */
function deleting(status: number, body: object, requests: string[] = []): Supervisor {
  return fakeSupervisor([apiStatus()], {
    request: <T>(method: string, path: string, payload?: unknown) => {
      requests.push(`${method} ${path} ${JSON.stringify(payload)}`);
      const answer: unknown = body;
      return Promise.resolve({ status, body: answer as T });
    },
  });
}

test('delete API: asks the supervisor to delete it; text or JSON', async () => {
  const requests: string[] = [];
  const supervisor = deleting(200, { deleted: 'iris', portFreed: true }, requests);
  const f = testFactory({ local: { findSupervisor: () => Promise.resolve(supervisor) } });
  assert.deepEqual(await cortex(f, 'delete', 'iris'), { code: 0, stdout: 'deleted iris\n', stderr: '' });
  assert.deepEqual(requests, ['POST /delete {"name":"iris"}']);
  const json = testFactory({ local: { findSupervisor: () => Promise.resolve(supervisor) } });
  assert.deepEqual(await cortex(json, 'delete', 'iris', '-o', 'json'), {
    code: 0,
    stdout: '{"deleted":"iris","portFreed":true}\n',
    stderr: '',
  });
});

test('delete asks on a terminal (unless -y); "no" exits 1 and deletes nothing', async () => {
  const requests: string[] = [];
  const supervisor = deleting(200, { deleted: 'iris' }, requests);
  const no = testFactory({
    io: { tty: true, answers: ['n'] },
    local: { findSupervisor: () => Promise.resolve(supervisor) },
  });
  const refused = await cortex(no, 'delete', 'iris');
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr, 'delete iris? its replicas stop and its files are removed [y/N] error: not deleted\n');
  assert.deepEqual(requests, []);
  const yes = testFactory({ io: { tty: true }, local: { findSupervisor: () => Promise.resolve(supervisor) } });
  assert.equal((await cortex(yes, 'delete', 'iris', '-y')).code, 0);
  assert.deepEqual(yes.io.questions, []);
  assert.equal(requests.length, 1);
});

test('delete of an unknown API exits 3; a supervisor error exits 1; with none running one is started', async () => {
  assert.deepEqual(await cortex(testFactory(), 'delete', 'iris'), {
    code: 3,
    stdout: '',
    stderr: 'error: no API named iris: nothing is deployed\n',
  });
  const broken = deleting(500, { error: 'EACCES removing the snapshot' });
  const failing = testFactory({
    local: {
      records: () => ({ iris: { name: 'iris', createdAt: new Date().toISOString() } }),
      ensureSupervisor: () => Promise.resolve(broken),
    },
  });
  assert.deepEqual(await cortex(failing, 'delete', 'iris'), {
    code: 1,
    stdout: '',
    stderr: 'error: EACCES removing the snapshot\n',
  });
  const gone = testFactory({ local: { findSupervisor: () => Promise.resolve(deleting(404, {})) } });
  assert.equal((await cortex(gone, 'delete', 'iris')).code, 3);
});

test('delete -e CLUSTER deletes the RealtimeAPI: text and JSON; "no" on a terminal exits 1', async () => {
  const deleted: string[] = [];
  const cluster = { delete: (name: string) => Promise.resolve(void deleted.push(name)) };
  assert.deepEqual(await cortex(testFactory({ environments: [prodEnv], cluster }), 'delete', 'iris', '-e', 'prod'), {
    code: 0,
    stdout: 'deleted iris from prod; the cluster removes its replicas, Service, autoscaler and bundle\n',
    stderr: '',
  });
  const json = await cortex(
    testFactory({ environments: [prodEnv], cluster }),
    'delete',
    'iris',
    '-e',
    'prod',
    '-o',
    'json',
  );
  assert.equal(json.stdout, '{"deleted":"iris","environment":"prod","namespace":"ml"}\n');
  const no = testFactory({ environments: [prodEnv], cluster, io: { tty: true, answers: ['no'] } });
  const refused = await cortex(no, 'delete', 'iris', '-e', 'prod');
  assert.equal(refused.code, 1);
  assert.deepEqual(no.io.questions, ['delete iris from prod (namespace ml)? its replicas stop [y/N] ']);
  assert.deepEqual(deleted, ['iris', 'iris']);
});

test('delete -e CLUSTER of a BatchAPI: says its jobs went with it; JSON names the kind', async () => {
  const cluster = { delete: () => Promise.resolve('BatchAPI' as const) };
  const text = await cortex(testFactory({ environments: [prodEnv], cluster }), 'delete', 'nightly', '-e', 'prod');
  assert.equal(text.stdout, 'deleted BatchAPI nightly from prod; its jobs and their workers were deleted with it\n');
  const json = await cortex(
    testFactory({ environments: [prodEnv], cluster }),
    'delete',
    'nightly',
    '-e',
    'prod',
    '-o',
    'json',
  );
  assert.equal(json.stdout, '{"deleted":"nightly","kind":"BatchAPI","environment":"prod","namespace":"ml"}\n');
});
