// Cortex 0.30's realtime projects (test/eras/fixtures/v0_30: our own, in that release's format)
// deploy unchanged to the local environment and answer as 0.30's docs say
// (docs/workloads/realtime/predictors.md, configuration.md and server-side-batching.md at v0.30.0).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { IRIS_SAMPLES, eraEnvironment, post, type Era } from './era-project.ts';

describe('Cortex 0.30 projects', { concurrency: false }, () => {
  let era: Era;
  let irisWarnings: string;
  let batchWarnings: string;
  before(async () => {
    era = await eraEnvironment('v0_30');
    irisWarnings = await era.deploy('iris-classifier');
    batchWarnings = await era.deploy('batch-classifier');
  });
  after(async () => {
    await era?.cleanup();
  });

  test('iris-classifier: dependencies, threads, autoscaling and networking.endpoint as 0.30 wrote them', async () => {
    assert.doesNotMatch(irisWarnings, /warning/, 'nothing in a 0.30 python predictor is ignored here');
    for (const [measurements, label] of IRIS_SAMPLES) {
      const answer = await era.ask('/v1/iris', post(measurements));
      assert.deepEqual([answer.status, answer.type, answer.text], [200, 'text/plain', label]);
    }
    const json = await era.ask('/v1/iris?format=json', post(IRIS_SAMPLES[2][0]));
    assert.deepEqual([json.type, json.json()], ['application/json', { label: 'virginica', label_id: 2 }]);
    assert.equal((await era.ask('/iris-classifier', post(IRIS_SAMPLES[0][0]))).status, 404, 'served at its endpoint');
  });

  test('Content-Type: text/plain is a str, decoded with its charset (0.30 docs)', async () => {
    const answer = await era.ask('/v1/iris', post('6.9,3.1,5.4,2.1', 'text/plain; charset=us-ascii'));
    assert.deepEqual([answer.status, answer.text], [200, 'virginica']);
  });

  test('server_side_batching: payload and headers are lists, one answer per request, in order', async () => {
    assert.match(batchWarnings, /api "batch-classifier": predictor\.shm_size: ignored/);
    const clients = Array.from({ length: 8 }, (_, i) => `client-${i}`);
    const answers = await Promise.all(
      clients.map((client, i) =>
        era.ask('/batch-classifier', post(IRIS_SAMPLES[i % 3][0], 'application/json', { 'X-Client': client })),
      ),
    );
    answers.forEach((answer, i) => {
      assert.equal(answer.status, 200, answer.text);
      const { label, client } = answer.json();
      assert.deepEqual({ label, client }, { label: IRIS_SAMPLES[i % 3][1], client: clients[i] });
    });
    const sizes = answers.map((a) => a.json().batch_size as number);
    assert.ok(Math.max(...sizes) > 1, `requests sent together were batched (batch sizes ${sizes.join(', ')})`);
    assert.ok(Math.max(...sizes) <= 8, 'max_batch_size: 8');
  });
});
