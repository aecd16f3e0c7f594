import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { LogsOptions as ClusterLogsOptions } from '../cluster/logs.ts';
import type { TestIOOptions } from '../io.ts';
import type { ApiStatus } from '../local/protocol.ts';
import { apiStatus, cortex, prodEnv, replica, supervisorStatus, testFactory, type TestFactory } from './testing.ts';

/** A factory whose supervisor reports `api` with replicas logging `logs` (replica id → lines). */
function withLogs(logs: Record<string, string[]>, io: TestIOOptions = {}, deletedAfter = Infinity): TestFactory {
  let api: ApiStatus | undefined;
  let calls = 0;
  const f = testFactory({
    io,
    local: { status: () => Promise.resolve(supervisorStatus(api && calls++ < deletedAfter ? [api] : [])) },
  });
  const dir = path.join(f.home, 'logs', 'iris');
  mkdirSync(dir, { recursive: true });
  const replicas = Object.entries(logs).map(([id, lines]) => {
    const logFile = path.join(dir, `${id}.log`);
    writeFileSync(logFile, lines.map((l) => `${l}\n`).join(''));
    return replica({ id, logFile });
  });
  api = apiStatus({ replicas });
  return f;
}

test('logs API: what its replica logged, as is; --tail N keeps the last N lines', async () => {
  const lines = ['{"message":"loading"}', '{"message":"iris is ready"}'];
  assert.deepEqual(await cortex(withLogs({ 'iris-1': lines }), 'logs', 'iris'), {
    code: 0,
    stdout: lines.join('\n') + '\n',
    stderr: '',
  });
  assert.deepEqual(await cortex(withLogs({ 'iris-1': lines }), 'logs', 'iris', '--tail', '1'), {
    code: 0,
    stdout: '{"message":"iris is ready"}\n',
    stderr: '',
  });
});

test('logs API with several replicas prefixes their lines with the replica (coloured on a terminal)', async () => {
  const f = withLogs({ 'iris-1': ['a'], 'iris-2': ['b'] });
  assert.equal((await cortex(f, 'logs', 'iris')).stdout, '[iris-1] a\n[iris-2] b\n');
  const tty = withLogs({ 'iris-1': ['a'], 'iris-2': ['b'] }, { stdoutTTY: true });
  assert.equal((await cortex(tty, 'logs', 'iris')).stdout, '\x1b[36m[iris-1]\x1b[39m a\n\x1b[35m[iris-2]\x1b[39m b\n');
});

test('logs of an API that is not deployed (3), that has no replicas (1, with why), or none running yet', async () => {
  const none = testFactory({ local: { status: () => Promise.resolve(undefined) } });
  assert.deepEqual(await cortex(none, 'logs', 'iris'), {
    code: 3,
    stdout: '',
    stderr: 'error: no API named iris: nothing is deployed\n',
  });
  const failed = testFactory({
    local: {
      status: () => Promise.resolve(undefined),
      records: () => ({
        iris: {
          name: 'iris',
          createdAt: new Date().toISOString(),
          failure: { hash: 'abc', reason: 'predictor.py: SyntaxError', at: new Date().toISOString() },
        },
      }),
    },
  });
  assert.deepEqual(await cortex(failed, 'logs', 'iris'), {
    code: 1,
    stdout: '',
    stderr: 'error: iris has no replicas running; its deploy failed: predictor.py: SyntaxError\n',
  });
  assert.deepEqual(await cortex(withLogs({}), 'logs', 'iris'), {
    code: 0,
    stdout: '',
    stderr: 'iris has no replicas running\n',
  });
});

test('logs: a bad --tail, or --pod locally, is a usage error (2); no API name too', async () => {
  const bad = await cortex(testFactory(), 'logs', 'iris', '--tail', 'ten');
  assert.deepEqual(bad, { code: 2, stdout: '', stderr: 'error: --tail must be a whole number, got "ten"\n' });
  const pod = await cortex(testFactory(), 'logs', 'iris', '--pod', 'x');
  assert.equal(pod.code, 2);
  assert.match(pod.stderr, /--pod is for cluster environments/);
  const missing = await cortex(testFactory(), 'logs');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing required argument 'api'/);
});

test('logs -f follows until the API is deleted', async () => {
  const { code, stdout, stderr } = await cortex(withLogs({ 'iris-1': ['first'] }, {}, 1), 'logs', 'iris', '-f');
  assert.equal(code, 0);
  assert.equal(stdout, 'first\n');
  assert.equal(stderr, 'iris was deleted\n');
});

test('logs -e CLUSTER: every pod, prefixed; --pod one of them, unprefixed; -f ends on Ctrl-C', async () => {
  const seen: Omit<ClusterLogsOptions, 'print' | 'note' | 'stop'>[] = [];
  const streamLogs = (options: ClusterLogsOptions): Promise<void> => {
    const { print, note, stop, ...rest } = options;
    seen.push(rest);
    note('iris-def started');
    print({ pod: 'iris-abc', text: 'one' });
    print({ pod: 'iris-def', text: 'two' });
    return options.follow && stop ? stop : Promise.resolve();
  };
  const f = testFactory({ environments: [prodEnv], cluster: { streamLogs } });
  assert.deepEqual(await cortex(f, 'logs', 'iris', '-e', 'prod', '--tail', '5'), {
    code: 0,
    stdout: '[iris-abc] one\n[iris-def] two\n',
    stderr: 'iris-def started\n',
  });
  const one = testFactory({ environments: [prodEnv], cluster: { streamLogs } });
  assert.equal((await cortex(one, 'logs', 'iris', '-e', 'prod', '--pod', 'iris-abc')).stdout, 'one\ntwo\n');
  const follow = testFactory({ environments: [prodEnv], cluster: { streamLogs } });
  const running = cortex(follow, 'logs', 'iris', '-e', 'prod', '-f');
  setImmediate(() => follow.interrupt());
  assert.equal((await running).code, 0);
  assert.deepEqual(follow.exits, [0]);
  assert.deepEqual(seen, [
    { name: 'iris', follow: false, tailLines: 5 },
    { name: 'iris', follow: false, pod: 'iris-abc' },
    { name: 'iris', follow: true },
  ]);
});

test('logs API JOB_ID -e CLUSTER reads the pods of that job', async () => {
  const seen: Omit<ClusterLogsOptions, 'print' | 'note' | 'stop'>[] = [];
  const streamLogs = (options: ClusterLogsOptions): Promise<void> => {
    const { print, note: _n, stop: _s, ...rest } = options;
    seen.push(rest);
    print({ pod: 'nightly-0-abc', text: 'batch 0' });
    print({ pod: 'nightly-1-def', text: 'batch 1' });
    return Promise.resolve();
  };
  const f = testFactory({ environments: [prodEnv], cluster: { streamLogs } });
  assert.deepEqual(await cortex(f, 'logs', 'recorder', 'nightly', '-e', 'prod'), {
    code: 0,
    stdout: '[nightly-0-abc] batch 0\n[nightly-1-def] batch 1\n',
    stderr: '',
  });
  assert.deepEqual(seen, [{ name: 'recorder', jobId: 'nightly', follow: false }]);
});
