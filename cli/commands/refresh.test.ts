import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Supervisor } from '../factory.ts';
import type { RolloutEvent } from '../local/protocol.ts';
import { apiStatus, cortex, fakeSupervisor, prodEnv, testFactory, timeless } from './testing.ts';

/** A supervisor whose /refresh streams a rollout of one new replica that ends with `last`. */
function refreshing(last: RolloutEvent | undefined, paths: string[] = []): Supervisor {
  return fakeSupervisor([apiStatus()], {
    stream: (path, _body, onEvent) => {
      paths.push(path);
      onEvent({ type: 'starting', api: 'iris', replicas: ['iris-2'] });
      onEvent({ type: 'replica-ready', api: 'iris', replica: 'iris-2', ready: 1, of: 1 });
      return Promise.resolve(last);
    },
  });
}

const running = (supervisor: Supervisor) =>
  testFactory({ local: { findSupervisor: () => Promise.resolve(supervisor) } });

test('refresh API: a rolling restart, its steps on stderr and "refreshed" on stdout, or JSON', async () => {
  const paths: string[] = [];
  const { code, stdout, stderr } = await cortex(
    running(refreshing({ type: 'result', api: 'iris', action: 'refreshed' }, paths)),
    'refresh',
    'iris',
  );
  assert.equal(code, 0);
  assert.equal(stdout, 'refreshed iris\n');
  assert.equal(
    timeless(stderr),
    'starting 1 replica of iris ... done (N.Ns)\nwaiting for iris to be ready (0/1) ... done (N.Ns)\n',
  );
  assert.deepEqual(paths, ['/refresh']);
  const json = await cortex(
    running(refreshing({ type: 'result', api: 'iris', action: 'refreshed' })),
    'refresh',
    'iris',
    '-o',
    'json',
  );
  assert.equal(json.stdout, '{"api":"iris","action":"refreshed"}\n');
});

test('refresh that fails exits 1 and says the running replicas keep serving', async () => {
  const failed: RolloutEvent = { type: 'result', api: 'iris', action: 'failed', reason: 'iris-2 exited with code 1' };
  const text = await cortex(running(refreshing(failed)), 'refresh', 'iris');
  assert.equal(text.code, 1);
  assert.equal(text.stdout, '');
  assert.match(text.stderr, /waiting for iris to be ready \(0\/1\) \.\.\. failed/, 'the step failed, not done');
  assert.match(
    text.stderr,
    /\nerror: iris was not restarted: iris-2 exited with code 1; the running replicas keep serving\n$/,
  );
  const json = await cortex(running(refreshing(undefined)), 'refresh', 'iris', '-o', 'json');
  assert.equal(json.code, 1);
  assert.deepEqual(JSON.parse(json.stdout), { api: 'iris', action: 'failed' });
  assert.match(json.stderr, /error: iris was not restarted: no answer;/);
});

test('refresh of an API that is not deployed (3) or has no running version (1)', async () => {
  assert.deepEqual(await cortex(testFactory(), 'refresh', 'iris'), {
    code: 3,
    stdout: '',
    stderr: 'error: no API named iris: nothing is deployed\n',
  });
  const versionless = fakeSupervisor([apiStatus({ version: undefined })]);
  assert.deepEqual(await cortex(running(versionless), 'refresh', 'iris'), {
    code: 1,
    stdout: '',
    stderr: 'error: iris has no running version to restart; deploy it\n',
  });
  // a supervisor is started when state.json has APIs to run and none runs
  const started = testFactory({
    local: { hasRunnableApis: () => true, ensureSupervisor: () => Promise.resolve(fakeSupervisor([apiStatus()])) },
  });
  assert.equal((await cortex(started, 'refresh', 'rose')).stderr, 'error: no API named rose; deployed: iris\n');
});

test('refresh -e CLUSTER restarts the Deployment: text and JSON', async () => {
  const restarted: string[] = [];
  const cluster = { restart: (name: string) => Promise.resolve(void restarted.push(name)).then(() => 7) };
  assert.deepEqual(await cortex(testFactory({ environments: [prodEnv], cluster }), 'refresh', 'iris', '-e', 'prod'), {
    code: 0,
    stdout:
      'restarting iris in prod: new replicas replace the old ones as they become ready ' +
      '(follow with cortex get iris -e prod -w)\n',
    stderr: '',
  });
  const json = await cortex(
    testFactory({ environments: [prodEnv], cluster }),
    'refresh',
    'iris',
    '-e',
    'prod',
    '-o',
    'json',
  );
  assert.deepEqual(JSON.parse(json.stdout), {
    api: 'iris',
    action: 'restarting',
    environment: 'prod',
    namespace: 'ml',
    deploymentGeneration: 7,
  });
  assert.deepEqual(restarted, ['iris', 'iris']);
});
