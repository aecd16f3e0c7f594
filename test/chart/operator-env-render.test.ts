// The chart's extraEnv and extraEnvFrom (docs/install.md), rendered by the real helm: they reach the
// operator's container next to the variables the chart sets itself, so the operator can be given,
// say, the storage credentials it reads a BatchJob's bucket files with (docs/batch.md).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { helmOnChart, renderChart, type Rendered as Obj } from '../helpers/chart.ts';

const operatorContainer = (objs: Obj[]) =>
  objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'cortex').spec.template.spec.containers[0];

describe("the chart's extra environment of the operator", () => {
  test('none by default: only what the chart sets, and no envFrom', async () => {
    const c = operatorContainer(await renderChart());
    assert.deepEqual(
      c.env.map((e: Obj) => e.name),
      ['CORTEX_ACTIVATOR_ADDRESS'],
    );
    assert.equal(c.envFrom, undefined);
  });

  test('extraEnv is added after the chart’s own variables, extraEnvFrom becomes envFrom', async () => {
    const c = operatorContainer(
      await renderChart([
        'extraEnv[0].name=AWS_ENDPOINT_URL',
        'extraEnv[0].value=http://minio.storage:9000',
        'extraEnvFrom[0].secretRef.name=storage-credentials',
        'queue.url=redis://r:6379',
      ]),
    );
    assert.deepEqual(
      c.env.map((e: Obj) => [e.name, e.value]),
      [
        ['CORTEX_ACTIVATOR_ADDRESS', undefined],
        ['CORTEX_QUEUE_URL', 'redis://r:6379'],
        ['AWS_ENDPOINT_URL', 'http://minio.storage:9000'],
      ],
    );
    assert.deepEqual(c.envFrom, [{ secretRef: { name: 'storage-credentials' } }]);
  });

  test('extraEnv alone gives the container an env list (no activator, no queue)', async () => {
    const c = operatorContainer(await renderChart(['activator.enabled=false', 'extraEnv[0].name=HTTPS_PROXY']));
    assert.deepEqual(
      c.env.map((e: Obj) => e.name),
      ['HTTPS_PROXY'],
    );
  });

  test('an extraEnv entry without a name is refused by the values schema', async () => {
    const r = await helmOnChart('template', ['extraEnv[0].value=x']);
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /extraEnv|name/);
  });
});
