// The chart's queue values (docs/install.md), rendered by the real helm: queue.url reaches the
// operator as CORTEX_QUEUE_URL (what --queue-url reads), queue.install runs a Redis whose Service
// is the URL the operator gets, and the two together are refused with the fix.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { helmOnChart, renderChart, type Rendered as Obj } from '../helpers/chart.ts';

describe("the chart gives the operator the AsyncAPIs' queue", () => {
  const render = (...set: string[]) => renderChart(set);
  const helm = (...set: string[]) => helmOnChart('template', set);
  const queueEnv = (objs: Obj[]) =>
    objs
      .find((o) => o.kind === 'Deployment' && o.metadata.name === 'cortex')
      .spec.template.spec.containers[0].env?.find((e: Obj) => e.name === 'CORTEX_QUEUE_URL')?.value;

  test('no queue by default: no CORTEX_QUEUE_URL and no Redis', async () => {
    const objs = await render();
    assert.equal(queueEnv(objs), undefined);
    assert.equal(objs.filter((o) => o.metadata.name === 'cortex-queue').length, 0);
  });

  test("queue.url is the operator's CORTEX_QUEUE_URL", async () => {
    assert.equal(queueEnv(await render('queue.url=redis://redis.data:6379')), 'redis://redis.data:6379');
    // without the activator the env list is still there for the queue
    const off = await render('queue.url=redis://r:6379', 'activator.enabled=false');
    assert.equal(queueEnv(off), 'redis://r:6379');
  });

  test("queue.install runs a Redis, and the operator's URL is its Service", async () => {
    const objs = await render('queue.install=true');
    const deployment = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'cortex-queue');
    const service = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'cortex-queue');
    assert.equal(deployment.spec.template.spec.containers[0].image, 'redis:7.4-alpine');
    assert.deepEqual(service.spec.selector, deployment.spec.template.metadata.labels);
    assert.equal(service.spec.ports[0].port, 6379);
    assert.equal(queueEnv(objs), 'redis://cortex-queue.cortex-system.svc.cluster.local:6379');
    // the operator's own Service must not select the Redis pod
    const operator = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'cortex');
    assert.notDeepEqual(operator.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
  });

  test('queue.url and queue.install together are refused, naming both', async () => {
    const r = await helm('queue.install=true', 'queue.url=redis://r:6379');
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /either queue\.url .* or queue\.install=true/);
  });

  test('a queue.url that is no redis:// URL is refused by the values schema', async () => {
    const r = await helm('queue.url=http://r:6379');
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /queue\.url|queue\/url|pattern/);
  });
});
