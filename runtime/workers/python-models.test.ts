// predictor.models in the Python worker (runtime/python/cortex_models.py), with real Python
// processes: python_client.get_model over models.dir / paths / path, version selection, live
// reloading of new version folders (a broken one keeps the old serving), the LRU cache of
// cacheSize, and the errors of bad model folders and of requests for unknown models.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ModelsSpec } from '../../operator/api/v1alpha1/index.ts';
import { PythonWorker } from './python.ts';
import { fixtureOptions, spawnLoggingWorker, stopWorkers } from './python-testing.ts';
import { InitError, type PredictResult, type WorkerOptions } from './types.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/models/', import.meta.url));
const live: PythonWorker[] = [];
let nextId = 1;
after(() => stopWorkers(live));

/** A folder of models: {name: {version or '': model.txt text}} ('' for an unversioned model). */
function modelsDir(models: Record<string, Record<string, string>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'cortex-models-'));
  for (const [name, versions] of Object.entries(models)) {
    for (const [version, text] of Object.entries(versions)) writeVersion(join(dir, name), version, text);
  }
  return dir;
}

function writeVersion(model: string, version: string, text: string): void {
  mkdirSync(join(model, version), { recursive: true });
  writeFileSync(join(model, version, 'model.txt'), text);
}

function start(models: ModelsSpec, file = 'client_predictor.py', over: Partial<WorkerOptions> = {}) {
  return spawnLoggingWorker(fixtureOptions(FIXTURES, file, { models, ...over }), live);
}

function ask(worker: PythonWorker, query = ''): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve) =>
    worker.send({
      id: nextId++,
      body: Buffer.from('{}'),
      contentType: 'application/json',
      query,
      rawHeaders: [],
      done: (r: PredictResult) => resolve({ status: r.status, body: JSON.parse(r.body.toString('utf8')) }),
    }),
  );
}

async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  const until = Date.now() + 10_000;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function initError(models: ModelsSpec, file = 'client_predictor.py'): Promise<string> {
  const err = await start(models, file).started.then(
    () => assert.fail('the worker started'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof InitError);
  return err.message;
}

describe('python_client with models.dir', () => {
  test('latest is the highest integer folder; a version, another model, and the errors of unknown ones', async () => {
    const dir = modelsDir({ a: { '1': 'a-v1', '2': 'a-v2', '10': 'a-v10' }, b: { '': 'b-only' } });
    const { worker, started } = start({ dir });
    await started;
    // every version is loaded at start
    assert.deepEqual((await ask(worker, 'model=a')).body, { model: 'a-v10', loads: 4 });
    assert.deepEqual((await ask(worker, 'model=a&version=2')).body.model, 'a-v2');
    assert.deepEqual((await ask(worker, 'model=b')).body.model, 'b-only'); // no version folders: version 1
    assert.deepEqual((await ask(worker, 'model=b&version=1')).body.model, 'b-only');
    assert.deepEqual(await ask(worker, 'model=c'), {
      status: 404,
      body: { error: "model 'c' was not found; available models: a, b" },
    });
    assert.deepEqual(await ask(worker, 'model=a&version=3'), {
      status: 404,
      body: { error: "model 'a' has no version '3'; available versions: 1, 2, 10" },
    });
    assert.deepEqual(await ask(worker), {
      status: 400,
      body: { error: 'model_name was not specified; available models: a, b' },
    });
  });

  test('a new version folder is served without a restart; a broken one leaves the last good one serving', async () => {
    const dir = modelsDir({ a: { '1': 'a-v1' } });
    const { worker, logs, started } = start({ dir, reloadInterval: '100ms' });
    await started;
    assert.equal((await ask(worker, 'model=a')).body.model, 'a-v1');
    writeVersion(join(dir, 'a'), '2', 'a-v2');
    await eventually(
      () => ask(worker, 'model=a'),
      (r) => r.body.model === 'a-v2',
      'version 2',
    );

    writeVersion(join(dir, 'a'), '3', 'broken');
    await eventually(
      async () => logs.find((l) => String(l.message).includes("model 'a' version 3 failed to load")),
      (line) => line !== undefined,
      'the failed load in the logs',
    );
    assert.equal((await ask(worker, 'model=a')).body.model, 'a-v2', 'the broken version is not served');
    assert.equal((await ask(worker, 'model=a&version=3')).status, 503);

    writeVersion(join(dir, 'a'), '3', 'a-v3 fixed'); // its files change: loaded again
    await eventually(
      () => ask(worker, 'model=a'),
      (r) => r.body.model === 'a-v3 fixed',
      'the fixed version 3',
    );

    writeVersion(dir, 'new-model', 'added'); // a model added to the dir
    await eventually(
      () => ask(worker, 'model=new-model'),
      (r) => r.body.model === 'added',
      'the new model',
    );
  });
});

describe('models that go away', () => {
  test('a removed version is unloaded; a models.dir that is gone keeps the loaded models serving', async () => {
    const dir = modelsDir({ a: { '1': 'a-v1', '2': 'a-v2' } });
    const { worker, logs, started } = start({ dir, reloadInterval: '100ms' });
    await started;
    rmSync(join(dir, 'a', '2'), { recursive: true });
    await eventually(
      () => ask(worker, 'model=a'),
      (r) => r.body.model === 'a-v1',
      'version 1 as latest',
    );
    assert.equal((await ask(worker, 'model=a&version=2')).status, 404);
    rmSync(dir, { recursive: true });
    await eventually(
      async () => logs.find((l) => String(l.message).includes('is gone: the models loaded so far keep serving')),
      (line) => line !== undefined,
      'the warning about the missing dir',
    );
    assert.deepEqual((await ask(worker, 'model=a')).body.model, 'a-v1');
  });
});

describe("Cortex 0.34's Handler", () => {
  test('model_client.get_model returns what load_model returned', async () => {
    const dir = modelsDir({ a: { '1': 'a-v1', '2': 'a-v2' } });
    const { worker, started } = start({ dir }, 'handler_client.py');
    await started;
    assert.deepEqual(await ask(worker, 'model=a'), { status: 200, body: { model: 'a-v2' } });
    assert.deepEqual(await ask(worker, 'model=a&version=1'), { status: 200, body: { model: 'a-v1' } });
    assert.equal((await ask(worker, 'model=b')).status, 404);
  });
});

describe('models.cacheSize', () => {
  test('loads on first use and unloads the least recently used beyond cacheSize', async () => {
    const dir = modelsDir({ x: { '': 'x' }, y: { '': 'y' }, z: { '': 'z' } });
    const paths = ['x', 'y', 'z'].map((name) => ({ name, path: join(dir, name) }));
    const { worker, started } = start({ paths, cacheSize: 2, diskCacheSize: 2 });
    await started;
    const loads = async (model: string) => (await ask(worker, `model=${model}`)).body.loads;
    assert.equal(await loads('x'), 1, 'nothing is loaded before it is asked for');
    assert.equal(await loads('x'), 1, 'a cached model is not loaded again');
    assert.equal(await loads('y'), 2);
    assert.equal(await loads('x'), 2, 'x and y fit in the cache');
    assert.equal(await loads('z'), 3, 'z evicts y, the least recently used');
    assert.equal(await loads('x'), 3, 'x stayed');
    assert.equal(await loads('y'), 4, 'y was evicted, so it is loaded again');
  });
});

describe('models.cacheSize with a broken model', () => {
  test('a version that fails to load answers 503, without the exception, and is retried once it changes', async () => {
    const dir = modelsDir({ ok: { '': 'ok' }, bad: { '': 'broken' } });
    const paths = ['ok', 'bad'].map((name) => ({ name, path: join(dir, name) }));
    const { worker, logs, started } = start({ paths, cacheSize: 1, reloadInterval: '100ms' });
    await started;
    const error = (text: string) => ({ status: 503, body: { error: `model 'bad' ${text} in the API's logs)` } });
    assert.deepEqual(await ask(worker, 'model=bad'), error('version 1 failed to load (the reason is'));
    assert.deepEqual(await ask(worker, 'model=bad'), error('has no version that loaded (the reasons are'));
    assert.deepEqual(await ask(worker, 'model=bad&version=1'), error('version 1 failed to load (the reason is'));
    assert.equal((await ask(worker, 'model=ok')).body.loads, 2, 'one failed load of bad, then ok: no retry of bad');
    assert.ok(
      logs.some((l) => /model 'bad' version 1 failed to load from .*this model is broken/s.test(String(l.message))),
    );
    writeFileSync(join(dir, 'bad', 'model.txt'), 'fixed now');
    await eventually(
      () => ask(worker, 'model=bad'),
      (r) => r.body.model === 'fixed now',
      'the fixed model',
    );
  });
});

describe('bad models', () => {
  test('missing path, no model in a folder, a storage URI, no load_model: the worker stops, saying why', async () => {
    const dir = modelsDir({});
    assert.match(await initError({ path: join(dir, 'nope') }), /predictor\.models\.path: not found: .*nope/);
    mkdirSync(join(dir, 'empty', 'not-a-version'), { recursive: true });
    assert.match(
      await initError({ dir }),
      /model 'empty': .*empty has no model files and no integer version folders \(1\/, 2\/\.\.\.\)/,
    );
    assert.match(
      await initError({ paths: [{ name: 'm', path: 's3://bucket/m' }] }),
      /predictor\.models\.paths\[0\]\.path: s3:\/\/bucket\/m was not downloaded before the worker started/,
    );
    const ok = modelsDir({ m: { '1': 'm' } });
    assert.match(
      await initError({ dir: ok }, 'no_load_model.py'),
      /PythonPredictor in .*no_load_model\.py has no load_model\(self, model_path\) method/,
    );
    writeVersion(join(ok, 'm'), '2', 'broken');
    assert.match(await initError({ dir: ok }), /model 'm' version 2 failed to load: ValueError: this model is broken/);
  });
});

describe('a predictor without python_client (nor load_model)', () => {
  test('gets the local paths in config: model_path, model_paths, model_dir; a key of its own config wins', async () => {
    const dir = modelsDir({ a: { '1': 'a-v1' }, b: { '': 'b' } });
    const one = start({ path: join(dir, 'a') }, 'config_paths.py', { config: { threshold: 0.5 } });
    await one.started;
    assert.deepEqual((await ask(one.worker)).body, { threshold: 0.5, model_path: join(dir, 'a') });
    const named = start({ paths: [{ name: 'b', path: 'b' }] }, 'config_paths.py', { projectDir: dir });
    await named.started;
    assert.deepEqual((await ask(named.worker)).body, { model_paths: { b: join(dir, 'b') } });
    const all = start({ dir }, 'config_paths.py', { config: { model_dir: 'mine' } });
    await all.started;
    assert.deepEqual((await ask(all.worker)).body, { model_dir: 'mine' });
    assert.ok(
      all.logs.some((l) => /predictor\.config\.model_dir is set/.test(String(l.message))),
      'the clash is logged',
    );
  });
});
