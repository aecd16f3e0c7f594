// The cluster path of predictor.models and type onnx: what the operator hands every replica in
// CORTEX_API_SPEC is what `cortex serve` runs (the models, the type), and the replica installs the
// onnx runtime's own requirements next to the project's requirements.txt.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { applyDefaults, type RealtimeApiSpecInput } from '../api/v1alpha1/index.ts';
import { runtimeRequirements } from '../../runtime/deps.ts';
import { runtimeSpecJson } from './deployment.ts';
import { RuntimeSpecError, parseRuntimeSpec } from './runtime-spec.ts';
import type { ApiInstance } from './types.ts';

const instance = (predictor: RealtimeApiSpecInput['predictor']): ApiInstance => ({
  name: 'mlp',
  namespace: 'ml',
  uid: 'uid-1',
  generation: 1,
  spec: applyDefaults('mlp', { predictor }),
});

test('an onnx API with models reaches the replica as it was reconciled', () => {
  const api = instance({
    type: 'onnx',
    path: 'predictor.py',
    image: 'registry.example.com/mlp:1',
    models: { dir: 'models', cacheSize: 2, diskCacheSize: 4, reloadInterval: '30s' },
  });
  const served = parseRuntimeSpec(runtimeSpecJson(api), 'mlp');
  assert.equal(served.spec.predictor?.type, 'onnx');
  assert.deepEqual(served.spec.predictor?.models, {
    dir: 'models',
    cacheSize: 2,
    diskCacheSize: 4,
    reloadInterval: '30s',
  });
});

test('a replica refuses a runtime spec whose models do not fit its type', () => {
  const json = JSON.stringify({
    apiVersion: 'cortex.dev/v1alpha1',
    kind: 'RealtimeAPI',
    metadata: { name: 'mlp' },
    spec: { predictor: { type: 'onnx', path: 'predictor.py', image: 'registry.example.com/mlp:1' } },
  });
  assert.throws(
    () => parseRuntimeSpec(json, 'mlp'),
    (e: unknown) => {
      assert.ok(e instanceof RuntimeSpecError);
      assert.match(e.message, /predictor\.models: is required for an onnx predictor/);
      return true;
    },
  );
});

test("type onnx installs the runtime's pinned onnxruntime unless requirements.txt names it", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cortex-onnx-reqs-'));
  const file = path.join(dir, 'requirements.txt');
  assert.deepEqual(runtimeRequirements('onnx', file), ['onnxruntime==1.32.0', 'numpy==2.4.6']);
  writeFileSync(file, '# mine\nOnnxRuntime>=1.20 ; python_version >= "3.9"\npandas\n');
  assert.deepEqual(runtimeRequirements('onnx', file), ['numpy==2.4.6']);
  assert.deepEqual(runtimeRequirements('python', file), []);
});
