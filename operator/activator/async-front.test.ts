// An AsyncAPI at zero (docs/async.md, "Scale to zero"): the activator queues a POST at once on a
// real redis-server and answers its id, wakes the API, and answers GET <id> from the record;
// nothing is held for the cold start.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { applyDefaults } from '../api/v1alpha1/index.ts';
import { asyncNames } from '../../runtime/async/records.ts';
import { openBroker } from '../../runtime/queue/open.ts';
import { redisMissing, startRedis, type RedisServer } from '../../test/helpers/redis-server.ts';
import { silentLogger } from '../util/log.ts';
import { Activator, type Backend } from './activator.ts';
import { activatorAsyncFront } from './async-front.ts';

let redis: RedisServer;
before(async () => {
  if (!redisMissing) redis = await startRedis();
});
after(async () => {
  await redis?.close();
});

/** A request through the activator (http.request: fetch cannot set Host). */
function send(port: number, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path, headers: { host: 'jobs.ml.svc.cluster.local' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test(
  'an AsyncAPI with no ready replica: the activator queues the POST, answers its id at once and wakes the API',
  { skip: redisMissing },
  async () => {
    const wakes: string[] = [];
    const settings = applyDefaults('jobs', { predictor: { type: 'python', path: 'p.py' }, async: {} }).async!;
    const backend: Backend = {
      ready: Promise.resolve(),
      api: () => ({ async: settings }),
      readyReplicas: () => [],
      runningReplicas: () => [],
      watch: () => () => undefined,
      async wake(ns, name) {
        wakes.push(`${ns}/${name}`);
        return { from: 0, to: 1 };
      },
    };
    const front = activatorAsyncFront(redis.url);
    const activator = new Activator({ backend, log: silentLogger, timeoutMs: 60_000, asyncFront: front.serve });
    const port = await activator.listen(0, '127.0.0.1');
    const broker = openBroker(redis.url);
    try {
      const started = Date.now();
      const posted = await send(port, 'POST', '/', '{"text": "a b"}');
      assert.equal(posted.status, 200, posted.body);
      assert.ok(Date.now() - started < 5000, 'answered without waiting for a replica');
      const { id } = JSON.parse(posted.body) as { id: string };
      assert.deepEqual(wakes, ['ml/jobs']);
      const names = asyncNames('ml', 'jobs');
      assert.deepEqual(await broker.depth(names.stream, names.group), { waiting: 1, pending: 0 });
      const record = await send(port, 'GET', `/${id}`);
      assert.equal(JSON.parse(record.body).status, 'in_queue');
      assert.equal((await send(port, 'GET', '/no-such-id')).status, 404);
    } finally {
      await activator.close();
      await front.close();
      await broker.close();
    }
  },
);
