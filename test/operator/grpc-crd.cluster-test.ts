// predictor.protobufPath (gRPC APIs, docs/grpc.md) on the real API server: the CRD's CEL rules
// (operator/api/v1alpha1/check-grpc.ts) compile, a gRPC API is accepted as written, and each field
// that cannot go with it is refused at apply time. No operator: only admission is under test.
// Not part of `npm test`: `npm run test:cluster`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { suiteCluster } from '../helpers/test-cluster.ts';

const NS = 'grpc';

const grpcApi = (name: string, predictor: Record<string, unknown> = {}, rest: Record<string, unknown> = {}) => ({
  apiVersion: 'cortex.dev/v1alpha1',
  kind: 'RealtimeAPI',
  metadata: { name, namespace: NS },
  spec: {
    predictor: {
      type: 'python',
      path: 'handler.py',
      image: 'fake.invalid/echo:1',
      protobufPath: 'echo.proto',
      ...predictor,
    },
    ...rest,
  },
});

describe('predictor.protobufPath on a real control plane', { concurrency: false }, () => {
  const suite = suiteCluster('cortex-grpc-crd-test', NS);
  const apply = (obj: unknown) => suite.apply(obj);

  test('a gRPC API is accepted and stored as written', async () => {
    await apply(grpcApi('echo', {}, { networking: { endpoint: '/echo.Echo' } }));
    const stored = await suite.cluster.kubectl.json<{ spec: { predictor: { protobufPath: string } } }>([
      'get',
      'realtimeapi',
      'echo',
      '-n',
      NS,
      '-o',
      'json',
    ]);
    assert.equal(stored.spec.predictor.protobufPath, 'echo.proto');
  });

  test('the CEL rules refuse a typescript predictor, server-side batching and min replicas 0', async () => {
    const cases: [unknown, RegExp][] = [
      [grpcApi('ts', { type: 'typescript', path: 'p.ts' }), /served by python predictors only/],
      [
        grpcApi('batched', { serverSideBatching: { maxBatchSize: 4, batchInterval: '10ms' } }),
        /protobufPath and serverSideBatching cannot be used together/,
      ],
      [grpcApi('zero', {}, { autoscaling: { minReplicas: 0 } }), /cannot scale to zero/],
      [grpcApi('outside', { protobufPath: '../echo.proto' }), /protobufPath/],
    ];
    for (const [obj, message] of cases) {
      await assert.rejects(apply(obj), (error: Error) => {
        assert.match(error.message, message);
        return true;
      });
    }
  });
});
