// A Cortex 0.25-era project deployed unchanged with the local environment: an onnx API
// (ONNXPredictor + onnx_client over models.paths with a version folder) and a python API
// (PythonPredictor + python_client/load_model over multi_model_reloading.dir), whose new
// version folder is served without a redeploy. The project's files are written here.

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { localEnv, type LocalEnv } from '../helpers/local.ts';
import { postJson, repoRoot } from '../helpers/serve.ts';

const MLP = path.join(repoRoot, 'bench', 'fixtures', 'onnx-mlp');

const ONNX_PREDICTOR = `
class ONNXPredictor:
    def __init__(self, onnx_client, config):
        self.client = onnx_client

    def predict(self, payload, query_params):
        labels, probabilities = self.client.predict(payload["features"], "mlp", query_params.get("version"))
        return {"label": int(labels[0]), "confidence": float(probabilities[0].max())}
`;

const TEXT_PREDICTOR = `
import os


class PythonPredictor:
    def __init__(self, config, python_client):
        self.client = python_client

    def load_model(self, model_path):
        with open(os.path.join(model_path, "greeting.txt")) as f:
            return f.read().strip()

    def predict(self, payload, query_params):
        return {"greeting": self.client.get_model(query_params["model"]) + ", " + payload["name"]}
`;

function writeVersion(model: string, version: string, greeting: string): void {
  mkdirSync(path.join(model, version), { recursive: true });
  writeFileSync(path.join(model, version, 'greeting.txt'), greeting);
}

describe('Cortex 0.25: onnx and python predictors with models', { concurrency: false }, () => {
  let local: LocalEnv;
  let project: string;
  let greetings: string;
  before(async () => {
    local = await localEnv();
    project = mkdtempSync(path.join(tmpdir(), 'cortex-v0_25-'));
    greetings = mkdtempSync(path.join(tmpdir(), 'cortex-v0_25-models-'));
    mkdirSync(path.join(project, 'mlp', '1'), { recursive: true });
    copyFileSync(path.join(MLP, 'model.onnx'), path.join(project, 'mlp', '1', 'model.onnx'));
    writeFileSync(path.join(project, 'onnx_predictor.py'), ONNX_PREDICTOR);
    writeFileSync(path.join(project, 'text_predictor.py'), TEXT_PREDICTOR);
    writeVersion(path.join(greetings, 'english'), '1', 'Hello');
    writeVersion(path.join(greetings, 'french'), '1', 'Bonjour');
    writeFileSync(
      path.join(project, 'cortex.yaml'),
      `- name: mlp-onnx
  kind: RealtimeAPI
  predictor:
    type: onnx
    path: onnx_predictor.py
    models:
      paths:
        - name: mlp
          path: mlp/
  compute:
    cpu: 1

- name: greeter
  kind: RealtimeAPI
  predictor:
    type: python
    path: text_predictor.py
    multi_model_reloading:
      dir: ${greetings}
      reload_interval: 500ms  # not Cortex's: it looked every 10 s
  compute:
    cpu: 200m
`,
    );
  });
  after(async () => {
    await local?.cleanup();
    rmSync(project, { recursive: true, force: true });
    rmSync(greetings, { recursive: true, force: true });
  });

  test('cortex deploy serves both; onnx_client runs the ONNX model, python_client the loaded models', async () => {
    const r = await local.cortex(['deploy', project]);
    assert.equal(r.code, 0, r.stderr);
    const sample = (await import(path.join(MLP, 'sample.json'), { with: { type: 'json' } })).default as {
      features: number[];
    };
    const mlp = await postJson(local.url('/mlp-onnx'), sample);
    assert.equal(mlp.status, 200);
    const answer = (await mlp.json()) as { label: number; confidence: number };
    assert.ok(Number.isInteger(answer.label) && answer.confidence > 0 && answer.confidence <= 1);
    const missing = await postJson(local.url('/mlp-onnx?version=2'), sample);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: "model 'mlp' has no version '2'; available versions: 1" });

    const french = await postJson(local.url('/greeter?model=french'), { name: 'Ada' });
    assert.deepEqual(await french.json(), { greeting: 'Bonjour, Ada' });
    const unknown = await postJson(local.url('/greeter?model=german'), { name: 'Ada' });
    assert.equal(unknown.status, 404);
    assert.deepEqual(await unknown.json(), {
      error: "model 'german' was not found; available models: english, french",
    });
  });

  test('a new version folder is served without a redeploy', async () => {
    writeVersion(path.join(greetings, 'english'), '2', 'Good evening');
    const until = Date.now() + 15_000;
    for (;;) {
      const r = await postJson(local.url('/greeter?model=english'), { name: 'Ada' });
      const body = (await r.json()) as { greeting: string };
      if (body.greeting === 'Good evening, Ada') break;
      assert.equal(body.greeting, 'Hello, Ada', 'version 1 serves until version 2 is loaded');
      assert.ok(Date.now() < until, 'version 2 was not served within 15 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  test('type tensorflow is refused with the way to ONNX', async () => {
    const tf = mkdtempSync(path.join(tmpdir(), 'cortex-v0_25-tf-'));
    writeFileSync(path.join(tf, 'predictor.py'), 'class TensorFlowPredictor:\n    pass\n');
    writeFileSync(
      path.join(tf, 'cortex.yaml'),
      '- name: tf\n  kind: RealtimeAPI\n  predictor:\n    type: tensorflow\n    path: predictor.py\n' +
        '    models:\n      path: s3://bucket/model/\n',
    );
    const r = await local.cortex(['deploy', tf]);
    rmSync(tf, { recursive: true, force: true });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /predictor\.type: predictor type "tensorflow" is not supported/);
    assert.match(r.stderr, /tf2onnx\.convert --saved-model/);
  });
});
