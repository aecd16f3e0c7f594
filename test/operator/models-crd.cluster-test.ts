// predictor.models and type onnx on the real API server: the CRD's CEL rules (models-types.ts)
// compile, accept a valid onnx API with models and reject each mistake at apply time with the
// same words `cortex deploy` uses. No operator: only admission is under test.
// Not part of `npm test`: `npm run test:cluster`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { suiteCluster } from '../helpers/test-cluster.ts';

const NS = 'models';

const onnxApi = (name: string, predictor: Record<string, unknown>) => ({
  apiVersion: 'cortex.dev/v1alpha1',
  kind: 'RealtimeAPI',
  metadata: { name, namespace: NS },
  spec: { predictor: { type: 'onnx', path: 'predictor.py', image: 'fake.invalid/mlp:1', ...predictor } },
});

describe('predictor.models on a real control plane', { concurrency: false }, () => {
  const suite = suiteCluster('cortex-models-crd-test', NS);
  const apply = (obj: unknown) => suite.apply(obj);

  test('an onnx API with models is accepted and stored as written', async () => {
    const models = { dir: 'models', cacheSize: 2, diskCacheSize: 3, reloadInterval: '5s' };
    await apply(onnxApi('mlp', { models }));
    const stored = await suite.cluster.kubectl.json<{ spec: { predictor: { models: unknown } } }>([
      'get',
      'realtimeapi',
      'mlp',
      '-n',
      NS,
      '-o',
      'json',
    ]);
    assert.deepEqual(stored.spec.predictor.models, models);
    await apply(onnxApi('mlp-paths', { models: { paths: [{ name: 'a', path: 'a/' }] } }));
  });

  test('storage URIs of every scheme, with models.storage, are accepted (issue 17)', async () => {
    const models = {
      paths: [
        { name: 's3', path: 's3://bucket/iris' },
        { name: 'gs', path: 'gs://bucket/iris/model.onnx' },
        { name: 'web', path: 'https://example.com/iris.tar.gz' },
        { name: 'hub', path: 'hf://acme/iris@v1' },
        { name: 'claim', path: 'pvc://model-store/iris' },
      ],
      storage: {
        secret: 'model-credentials',
        s3Endpoint: 'http://minio.storage:9000',
        hfEndpoint: 'https://hub.local',
      },
    };
    await apply(onnxApi('stored-models', { models }));
    const stored = await suite.cluster.kubectl.json<{ spec: { predictor: { models: unknown } } }>([
      'get',
      'realtimeapi',
      'stored-models',
      '-n',
      NS,
      '-o',
      'json',
    ]);
    assert.deepEqual(stored.spec.predictor.models, models);
  });

  test('the CEL rules reject each mistake of models at apply time', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{}, /an onnx predictor needs models/],
      [{ models: { path: 'a', dir: 'b' } }, /exactly one of path, paths and dir/],
      [{ models: { path: 'azure://bucket/m' } }, /only s3:\/\/, gs:\/\/, http\(s\):\/\/, hf:\/\/ and pvc:\/\/ URIs/],
      [{ models: { paths: [{ name: 'a', path: 'ftp://b/a' }] } }, /only s3:\/\/, gs:\/\/.* URIs are supported/],
      [{ models: { path: 'a', cacheSize: 2 } }, /cacheSize needs several models/],
      [{ models: { dir: 'a', cacheSize: 3, diskCacheSize: 2 } }, /diskCacheSize needs cacheSize and must be at least/],
      [{ models: { dir: 'a', reloadInterval: '0s' } }, /reloadInterval must be at least 100ms/],
      [
        {
          models: {
            paths: [
              { name: 'a', path: 'a' },
              { name: 'a', path: 'b' },
            ],
          },
        },
        /duplicate entries for key \[name="a"\]/,
      ],
      [{ type: 'typescript', path: 'p.ts', models: { dir: 'a' } }, /a typescript predictor loads its own/],
    ];
    for (const [predictor, message] of cases) {
      await assert.rejects(apply(onnxApi('bad', predictor)), message, JSON.stringify(predictor));
    }
  });
});
