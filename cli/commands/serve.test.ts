import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type { ReplicaOptions } from '../../runtime/replica.ts';
import type { TestIOOptions } from '../io.ts';
import { cortex, testFactory } from './testing.ts';

const IRIS = new URL('../../examples/iris-classifier', import.meta.url).pathname;
const two = mkdtempSync(path.join(tmpdir(), 'cortex-serve-test-'));
after(() => rmSync(two, { recursive: true, force: true }));
writeFileSync(path.join(two, 'predictor.py'), 'class PythonPredictor:\n  pass\n');
writeFileSync(
  path.join(two, 'cortex.yaml'),
  ['a', 'b']
    .map((n) => `- name: ${n}\n  kind: RealtimeAPI\n  predictor: {type: python, path: predictor.py}\n`)
    .join(''),
);

function serving(io: TestIOOptions = {}) {
  const started: Omit<ReplicaOptions, 'spec'>[] = [];
  let stopped = 0;
  const f = testFactory({
    io,
    startReplica: ({ spec: _spec, ...options }) => {
      started.push(options);
      return Promise.resolve({
        port: options.port === 0 ? 41234 : options.port,
        stop: () => Promise.resolve(void stopped++),
      });
    },
  });
  return { f, started, stopped: () => stopped };
}

test('serve DIR starts the one API with the flags parsed; SIGTERM drains it and exits 0', async () => {
  const { f, started, stopped } = serving();
  const result = await cortex(f, 'serve', IRIS, '-p', '0', '--max-body-size', '1Mi', '--grace-period', '5');
  assert.deepEqual(result, { code: 0, stdout: '', stderr: '' }, 'no hint when stderr is not a terminal');
  assert.equal(started.length, 1);
  assert.deepEqual(
    { ...started[0], terminationLogPath: undefined },
    {
      name: 'iris-classifier',
      projectDir: IRIS,
      port: 0,
      host: '0.0.0.0',
      maxBodyBytes: 1024 * 1024,
      gracePeriodMs: 5000,
      requestTimeoutMs: 30_000,
      predictTimeoutMs: 60_000,
      terminationLogPath: undefined,
      adminPort: 15000,
    },
  );
  f.terminate();
  await new Promise((r) => setImmediate(r));
  assert.equal(stopped(), 1);
  assert.deepEqual(f.exits, [0]);
});

test('serve on a terminal prints a curl line to try it', async () => {
  const { f } = serving({ stderrTTY: true });
  const { stderr } = await cortex(f, 'serve', IRIS, '--host', '127.0.0.1', '-p', '0');
  assert.match(
    stderr,
    /^iris-classifier is ready; try:\n {2}curl http:\/\/127\.0\.0\.1:41234\/ -X POST -H 'Content-Type: application\/json' -d @\S*sample\.json\n$/,
  );
});

test('serve: several APIs need --api, an unknown one or a bad number is a usage error (2)', async () => {
  const usage = async (...args: string[]) => {
    const { f, started } = serving();
    const r = await cortex(f, 'serve', ...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(started.length, 0);
    return r.stderr;
  };
  assert.match(await usage(two), /cortex\.yaml lists 2 APIs \(a, b\); choose one with --api NAME\n$/);
  assert.match(await usage(two, '--api', 'c'), /has no API named "c"; it lists: a, b\n$/);
  assert.equal(
    await usage(IRIS, '--port', 'http'),
    'error: --port must be a port number from 0 to 65535, got "http"\n',
  );
  assert.equal(
    await usage(IRIS, '--port', '99999'),
    'error: --port must be a port number from 0 to 65535, got "99999"\n',
  );
  assert.equal(
    await usage(IRIS, '--predict-timeout', 'soon'),
    'error: --predict-timeout must be a number of seconds (0 or more), got "soon"\n',
  );
  assert.equal(
    await usage(IRIS, '--max-body-size', 'big'),
    'error: --max-body-size must be a size like 10Mi, 500k or 1048576, got "big"\n',
  );
  const { f, started } = serving();
  assert.equal((await cortex(f, 'serve', two, '--api', 'b', '-p', '0')).code, 0);
  assert.equal(started[0].name, 'b');
});

test('serve: --predict-timeout is passed on; a port in use is one line and exit 1', async () => {
  const { f, started } = serving();
  assert.equal((await cortex(f, 'serve', IRIS, '-p', '0', '--predict-timeout', '2.5')).code, 0);
  assert.equal(started[0].predictTimeoutMs, 2500);
  const busy = testFactory({
    startReplica: () =>
      Promise.reject(Object.assign(new Error('listen EADDRINUSE: address already in use'), { code: 'EADDRINUSE' })),
  });
  const r = await cortex(busy, 'serve', IRIS, '--host', '127.0.0.1', '-p', '8888');
  assert.deepEqual(
    { code: r.code, stderr: r.stderr },
    {
      code: 1,
      stderr: 'error: cannot listen on 127.0.0.1:8888: the address is already in use (choose another --port)\n',
    },
  );
});

// What the operator hands every replica (CORTEX_API_SPEC): the RealtimeAPI it reconciled.
function replicaSpec(name: string, predictor: Record<string, unknown>, maxReplicaConcurrency = 7): string {
  return JSON.stringify({
    apiVersion: 'cortex.dev/v1alpha1',
    kind: 'RealtimeAPI',
    metadata: { name },
    spec: {
      predictor: { type: 'python', path: 'predictor.py', image: 'registry.example.com/x:1', ...predictor },
      autoscaling: { maxReplicaConcurrency },
    },
  });
}

function servingSpecs() {
  const specs: ReplicaOptions[] = [];
  const f = testFactory({
    startReplica: (options) => {
      specs.push(options);
      return Promise.resolve({ port: 41234, stop: () => Promise.resolve() });
    },
  });
  return { f, specs };
}

test("serve with CORTEX_API_SPEC runs that spec, not cortex.yaml's API of the same name", async () => {
  const { f, specs } = servingSpecs();
  const json = replicaSpec('b', { config: { k: 'from the resource' }, threadsPerProcess: 3, logLevel: 'debug' });
  const r = await cortex(f, 'serve', two, '--api', 'b', '-p', '0', '--api-spec', json);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(specs.length, 1);
  const { name, spec, projectDir } = specs[0];
  assert.equal(name, 'b');
  assert.equal(projectDir, two);
  assert.deepEqual(spec.predictor?.config, { k: 'from the resource' });
  assert.equal(spec.predictor?.threadsPerProcess, 3);
  assert.equal(spec.predictor?.logLevel, 'debug');
  assert.equal(spec.predictor?.processesPerReplica, 1, 'defaulted');
  assert.equal(spec.autoscaling.maxReplicaConcurrency, 7);
});

test('serve reads CORTEX_API_SPEC from the environment; the folder needs no cortex.yaml', async () => {
  const bare = mkdtempSync(path.join(tmpdir(), 'cortex-serve-bare-'));
  const saved = process.env.CORTEX_API_SPEC;
  try {
    writeFileSync(path.join(bare, 'predictor.py'), 'class PythonPredictor:\n  pass\n');
    process.env.CORTEX_API_SPEC = replicaSpec('image-only', {
      serverSideBatching: { maxBatchSize: 4, batchInterval: '50ms' },
    });
    const { f, specs } = servingSpecs();
    const r = await cortex(f, 'serve', bare, '--api', 'image-only', '-p', '0');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(specs[0].name, 'image-only');
    assert.equal(specs[0].projectDir, bare);
    assert.deepEqual(specs[0].spec.predictor?.serverSideBatching, { maxBatchSize: 4, batchInterval: '50ms' });
  } finally {
    if (saved === undefined) delete process.env.CORTEX_API_SPEC;
    else process.env.CORTEX_API_SPEC = saved;
    rmSync(bare, { recursive: true, force: true });
  }
});

test('serve: a CORTEX_API_SPEC of another API, not JSON or invalid is a usage error (2)', async () => {
  const usage = async (json: string) => {
    const { f, specs } = servingSpecs();
    const r = await cortex(f, 'serve', two, '--api', 'b', '--api-spec', json);
    assert.equal(r.code, 2, json);
    assert.equal(specs.length, 0);
    return r.stderr;
  };
  assert.match(await usage(replicaSpec('a', {})), /CORTEX_API_SPEC is the API "a", not "b" \(--api\)/);
  assert.match(await usage('{'), /CORTEX_API_SPEC is not JSON/);
  assert.match(
    await usage(replicaSpec('b', { threadsPerProcess: 0 })),
    /CORTEX_API_SPEC of b is not a valid spec:\n {2}predictor\.threadsPerProcess: /,
  );
});

test('serve of a pod API runs its containers with a container runner; with none that works it says so', async () => {
  const v042 = new URL('../../test/eras/v0_42', import.meta.url).pathname;
  const { f, started } = serving();
  const saved = process.env.PATH;
  // no runner at all, whatever this machine has (the real ones: test/eras/v0_42.test.ts)
  process.env.PATH = '/nonexistent';
  let r;
  try {
    r = await cortex(f, 'serve', v042);
  } finally {
    process.env.PATH = saved;
  }
  assert.equal(r.code, 2);
  assert.match(r.stderr, /API sentiment: sentiment runs its own containers \(pod:\), and no container runner works/);
  assert.match(r.stderr, /docker: not installed \(not on PATH\); podman: not installed .*; buildah: not installed/);
  assert.equal(started.length, 0);
});
