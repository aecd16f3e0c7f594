import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FIELD_TABLE, camelToSnake, fromSnakeCase, toSnakePath } from './snake-case.ts';
import { RealtimeApiSpecSchema } from '../../operator/api/v1alpha1/index.ts';

test('the field table is derived from the schema', () => {
  assert.equal(FIELD_TABLE.get('autoscaling.min_replicas'), 'autoscaling.minReplicas');
  assert.equal(
    FIELD_TABLE.get('predictor.server_side_batching.batch_interval'),
    'predictor.serverSideBatching.batchInterval',
  );
  assert.equal(FIELD_TABLE.get('update_strategy.max_surge'), 'updateStrategy.maxSurge');
  assert.equal(FIELD_TABLE.get('compute.node_groups'), 'compute.nodeGroups');
  assert.equal(FIELD_TABLE.get('networking.endpoint'), 'networking.endpoint');
  assert.equal(FIELD_TABLE.get('predictor.python_path'), 'predictor.pythonPath');
  assert.ok(!FIELD_TABLE.has('predictor.config.anything'));
  for (const [snake, camel] of FIELD_TABLE) assert.equal(snake, camel.split('.').map(camelToSnake).join('.'));
});

test('toSnakePath renames fields but not map keys', () => {
  assert.deepEqual(toSnakePath(['autoscaling', 'minReplicas']), ['autoscaling', 'min_replicas']);
  assert.deepEqual(toSnakePath(['predictor', 'env', 'myVar']), ['predictor', 'env', 'myVar']);
  assert.deepEqual(toSnakePath(['predictor', 'config', 'modelPath']), ['predictor', 'config', 'modelPath']);
  assert.deepEqual(toSnakePath(['compute', 'nodeGroups', '0']), ['compute', 'node_groups', '0']);
});

test('fromSnakeCase converts fields, keeps data, reports unknown keys', () => {
  const unknown: string[] = [];
  const out = fromSnakeCase(
    {
      predictor: {
        type: 'python',
        path: 'p.py',
        python_path: 'src',
        config: { model_path: 's3://x', nested: { some_key: 1 } },
        env: { LOG_LEVEL: 'x', N: 4, ON: true },
      },
      autoscaling: { min_replicas: 2, init_replicas: null, bogus: 1 },
      compute: { node_groups: ['gpu_nodes'] },
    },
    RealtimeApiSpecSchema,
    [],
    (p, known) => unknown.push(`${p.join('.')} (${known.length} known)`),
  );
  assert.deepEqual(out, {
    predictor: {
      type: 'python',
      path: 'p.py',
      pythonPath: 'src',
      config: { model_path: 's3://x', nested: { some_key: 1 } },
      env: { LOG_LEVEL: 'x', N: '4', ON: 'true' },
    },
    autoscaling: { minReplicas: 2 },
    compute: { nodeGroups: ['gpu_nodes'] },
  });
  assert.deepEqual(unknown, ['autoscaling.bogus (13 known)']);
});
