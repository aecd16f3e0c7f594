// Cortex 0.35's realtime projects (test/eras/fixtures/v0_35: our own, in that release's format:
// a handler section and a Handler class) deploy unchanged to the local environment and answer
// as 0.35's docs say (docs/workloads/realtime/handler.md and configuration.md at v0.35.0).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../helpers/serve.ts';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { IRIS_SAMPLES, eraEnvironment, fixture, post, type Era } from './era-project.ts';

describe('Cortex 0.35 projects', { concurrency: false }, () => {
  let era: Era;
  let notesWarnings: string;
  before(async () => {
    era = await eraEnvironment('v0_35');
    await era.deploy('iris-classifier');
    await era.deploy('sleep');
    notesWarnings = await era.deploy('notes');
    await era.deploy('prime-generator');
  });
  after(async () => {
    await era?.cleanup();
  });

  test('iris-classifier: handle_post answers each label as text/plain', async () => {
    for (const [measurements, label] of IRIS_SAMPLES) {
      const answer = await era.ask('/iris-classifier', post(measurements));
      assert.deepEqual([answer.status, answer.type, answer.text], [200, 'text/plain', label]);
    }
  });

  test('sleep: handle_post with query_params; no handle_get, so GET and /info are the summary, PUT a 405', async () => {
    const started = Date.now();
    const slept = await era.ask('/sleep?sleep=0.3', post({}));
    assert.deepEqual([slept.status, slept.type, slept.text], [200, 'text/plain', 'ok']);
    assert.ok(Date.now() - started >= 300, 'slept for ?sleep=0.3');
    for (const target of ['/sleep', '/sleep/info']) {
      const summary = await era.ask(target);
      assert.deepEqual([summary.status, summary.json().api], [200, 'sleep'], target);
    }
    const put = await era.ask('/sleep', { method: 'PUT', body: '{}' });
    assert.deepEqual([put.status, put.headers.get('allow')], [405, 'GET, HEAD, POST']);
  });

  test("notes: every field of 0.35's handler configuration is accepted", async () => {
    assert.doesNotMatch(notesWarnings, /warning/);
  });

  test('notes: handle_post answers, then its callback runs', async () => {
    const created = await era.ask('/notes', post({ text: 'first' }));
    assert.deepEqual([created.status, created.type, created.json()], [200, 'application/json', { id: '1' }]);
    await waitFor('the callback', async () =>
      (await era.ask('/notes')).json().callbacks.length === 1 ? true : undefined,
    );
    const logs = await era.local.cortex(['logs', 'notes']);
    assert.match(logs.stdout, /callback: note 1 created/);
  });

  test('notes: handle_get sees .env over handler.env, not drafts/; a JSONResponse keeps its status', async () => {
    assert.deepEqual((await era.ask('/notes')).json(), {
      notes: { 1: 'note: first' },
      callbacks: ['1'],
      owner: 'from-dotenv',
      secret: 's3cret',
      drafts_deployed: false,
    });
    const one = await era.ask('/notes?id=1');
    assert.deepEqual([one.status, one.type, one.text], [200, 'text/plain', 'note: first']);
    const missing = await era.ask('/notes?id=9');
    assert.deepEqual([missing.status, missing.json()], [404, { error: 'no note 9' }]);
    const info = await era.ask('/notes/info');
    assert.deepEqual([info.status, info.json().api], [200, 'notes'], '/info is the summary even with handle_get');
  });

  test('notes: PUT gets text/plain as a str, answers bytes; DELETE reads headers; PATCH is a 405', async () => {
    const put = await era.ask('/notes?id=1', {
      method: 'PUT',
      headers: { 'Content-Type': 'text/plain' },
      body: 'changed',
    });
    assert.deepEqual([put.status, put.type, put.text], [200, 'application/octet-stream', 'updated']);
    assert.equal((await era.ask('/notes?id=1')).text, 'note: changed');
    const unconfirmed = await era.ask('/notes?id=1', { method: 'DELETE' });
    assert.deepEqual([unconfirmed.status, unconfirmed.json()], [409, { deleted: false }]);
    const deleted = await era.ask('/notes?id=1', { method: 'DELETE', headers: { 'X-Confirm': 'yes' } });
    assert.deepEqual([deleted.status, deleted.json()], [200, { deleted: true }]);
    const patch = await era.ask('/notes', { method: 'PATCH', body: '{}' });
    assert.deepEqual([patch.status, patch.headers.get('allow')], [405, 'GET, HEAD, POST, PUT, DELETE']);
  });

  test('prime-generator (gRPC): cortex get gives its gRPC address; Predict streams the primes', async () => {
    const got = await era.local.cortex(['get', 'prime-generator']);
    const address = /grpc:\/\/(127\.0\.0\.1:\d+)/.exec(got.stdout);
    assert.ok(address, `cortex get shows the gRPC address:\n${got.stdout}`);
    const proto = loadSync('generator.proto', {
      includeDirs: [fixture('v0_35', 'prime-generator')],
      keepCase: true,
      longs: Number,
    });
    const pkg = grpc.loadPackageDefinition(proto).prime_generator as grpc.GrpcObject;
    const Generator = pkg.Generator as grpc.ServiceClientConstructor;
    const client = new Generator(address[1], grpc.credentials.createInsecure());
    try {
      const primes: number[] = [];
      const stream = client.Predict({ prime_numbers_to_generate: 5 }) as grpc.ClientReadableStream<{
        prime_number: number;
      }>;
      for await (const out of stream) primes.push(out.prime_number);
      assert.deepEqual(primes, [2, 3, 5, 7, 11]);
    } finally {
      client.close();
    }
  });
});
