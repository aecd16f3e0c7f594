// The AsyncAPI front (front.ts) on a real redis-server: requests are queued with their record, bad
// requests answered with what to do, and a POST while Redis is away gets 503 at once and is not
// queued behind the client's back when Redis returns.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisMissing, startRedis, type RedisServer } from '../../test/helpers/redis-server.ts';
import { RedisBroker } from '../queue/redis.ts';
import { serveAsync } from './front.ts';
import { asyncNames } from './records.ts';

describe('the AsyncAPI front on Redis', { skip: redisMissing }, () => {
  let redis: RedisServer;
  let broker: RedisBroker;
  let server: http.Server;
  let url: string;
  const names = asyncNames('test', 'front');
  before(async () => {
    redis = await startRedis();
    broker = new RedisBroker(redis.url, { failFast: true });
    server = http.createServer((req, res) => {
      const [pathname = '', query = ''] = (req.url ?? '').split('?');
      void serveAsync({ broker, names, resultTtlMs: 60_000, maxBodyBytes: 100 }, req, res, pathname, query);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.close();
    await broker.close();
    await redis.close();
  });
  const post = (body: string) =>
    fetch(`${url}/?a=1`, { method: 'POST', body, headers: { 'content-type': 'text/plain' } });

  test('POST queues the body, content type and query with an in_queue record; GET answers it', async () => {
    const res = await post('hello');
    assert.equal(res.status, 200);
    const { id } = (await res.json()) as { id: string };
    const [message] = await broker.read(names.stream, names.group, 'c', {
      count: 1,
      blockMs: 0,
      claimIdleMs: 60_000,
      maxDeliveries: 3,
    });
    assert.deepEqual(JSON.parse(message!.body), {
      id,
      body: Buffer.from('hello').toString('base64'),
      query: 'a=1',
      contentType: 'text/plain',
    });
    const record = (await (await fetch(`${url}/${id}`)).json()) as { id: string; status: string };
    assert.deepEqual([record.id, record.status], [id, 'in_queue']);
    await broker.ack(names.stream, names.group, message!.id);
  });

  test('a body over the limit is 413; other methods and paths are 405 with what an AsyncAPI takes', async () => {
    assert.equal((await post('x'.repeat(101))).status, 413);
    const put = await fetch(`${url}/`, { method: 'PUT', body: '{}' });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'POST');
    assert.match(((await put.json()) as { error: string }).error, /POST <endpoint>.*GET <endpoint>\/<id>/);
    assert.equal((await fetch(`${url}/a/b`)).status, 405);
  });

  test('a POST while Redis is down is 503 at once and never queued later', async () => {
    await redis.stop();
    const started = Date.now();
    const res = await post('lost?');
    assert.equal(res.status, 503);
    assert.match(((await res.json()) as { error: string }).error, /queue did not answer.*retry/);
    assert.ok(Date.now() - started < 3000, `answered in ${Date.now() - started} ms`);
    await redis.start();
    await sleep(1500); // reconnected, and anything held would have run by now
    assert.deepEqual(await broker.depth(names.stream, names.group), { waiting: 0, pending: 0 });
    assert.equal((await post('after')).status, 200, 'the front reconnected');
  });
});
