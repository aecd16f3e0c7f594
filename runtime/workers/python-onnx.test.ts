// predictor.type onnx in the Python worker (runtime/python/cortex_onnx.py): a real ONNX model
// (bench/fixtures/onnx-mlp's MLP) run by onnx_client with ONNX Runtime, in the virtualenv the
// runtime prepares for type onnx (deps.ts's pinned onnxruntime and numpy: installed from PyPI once,
// then reused from the cache).

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ModelsSpec } from '../../operator/api/v1alpha1/index.ts';
import { apiLogger } from '../../operator/util/log.ts';
import { preparePython, runtimeRequirements } from '../deps.ts';
import { PythonWorker } from './python.ts';
import { fixtureOptions, spawnLoggingWorker, stopWorkers } from './python-testing.ts';
import { InitError, type PredictResult } from './types.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/models/', import.meta.url));
const MODEL = fileURLToPath(new URL('../../bench/fixtures/onnx-mlp/model.onnx', import.meta.url));
const SAMPLE = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../bench/fixtures/onnx-mlp/sample.json', import.meta.url)), 'utf8'),
) as { features: number[] };
const live: PythonWorker[] = [];
let python: string;
let nextId = 1;

before(async () => {
  const noFile = join(mkdtempSync(join(tmpdir(), 'cortex-onnx-')), 'requirements.txt');
  python = await preparePython(noFile, apiLogger('onnx-test', 'warning'), {
    extra: runtimeRequirements('onnx', noFile),
  });
});
after(() => stopWorkers(live));

function start(models: ModelsSpec, config: Record<string, unknown> = {}) {
  return spawnLoggingWorker(
    fixtureOptions(FIXTURES, 'onnx_predictor.py', { models, config, python, predictorType: 'onnx' }),
    live,
  );
}

function ask(worker: PythonWorker, payload: unknown, query = '') {
  return new Promise<{ status: number; body: Record<string, unknown> }>((resolve) =>
    worker.send({
      id: nextId++,
      body: Buffer.from(JSON.stringify(payload)),
      contentType: 'application/json',
      query,
      rawHeaders: [],
      done: (r: PredictResult) => resolve({ status: r.status, body: JSON.parse(r.body.toString('utf8')) }),
    }),
  );
}

describe('onnx predictor', () => {
  test('onnx_client.predict runs the model of models.path (a .onnx file); get_model gives its signatures', async () => {
    const { worker, started } = start({ path: MODEL });
    await started;
    const answer = await ask(worker, { input: [SAMPLE.features] });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body.inputs, ['input']);
    assert.equal(answer.body.probabilities, 10);
    assert.ok(Number.isInteger(answer.body.label) && (answer.body.label as number) < 10);
    // the model's one input may also be sent as it is (reshaped to the signature's [None, 128])
    assert.deepEqual((await ask(worker, SAMPLE.features)).body, answer.body);
    assert.deepEqual(await ask(worker, { features: SAMPLE.features }), {
      status: 400,
      body: {
        error: "missing key 'input' for the model: send an object with its inputs (or send the input's value itself)",
      },
    });
    const bad = await ask(worker, { input: [1, 2, 3] });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.error), /input 'input' of the model does not fit its signature \[-1, 128\] float32/);
  });

  test('models.dir with version folders: a model by name and version; unknown ones are 404', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cortex-onnx-dir-'));
    for (const version of ['1', '2']) {
      mkdirSync(join(dir, 'mlp', version), { recursive: true });
      copyFileSync(MODEL, join(dir, 'mlp', version, 'model.onnx'));
    }
    const { worker, started } = start({ dir }, { model: 'mlp' });
    await started;
    assert.equal((await ask(worker, SAMPLE.features, 'model=mlp')).status, 200);
    assert.equal((await ask(worker, SAMPLE.features, 'model=mlp&version=1')).status, 200);
    assert.deepEqual(await ask(worker, SAMPLE.features, 'model=mlp&version=7'), {
      status: 404,
      body: { error: "model 'mlp' has no version '7'; available versions: 1, 2" },
    });
    assert.equal((await ask(worker, SAMPLE.features, 'model=other')).status, 404);
  });

  test('a folder without exactly one .onnx file stops the worker with the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cortex-onnx-bad-'));
    writeFileSync(join(dir, 'README.txt'), 'no model here');
    const err = await start({ path: dir }).started.then(
      () => assert.fail('the worker started'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof InitError);
    assert.match(err.message, /the model version 1 failed to load: .*exactly one \.onnx file .*has none/);
  });
});
