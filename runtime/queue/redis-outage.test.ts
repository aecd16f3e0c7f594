// Redis going away while producers and consumers run (issue 18: "stop Redis for 10 s during a job,
// the job resumes"): a real redis-server is stopped and started again, and frozen; nothing may be
// lost or counted twice.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisMissing, startRedis, type RedisServer } from '../../test/helpers/redis-server.ts';
import { consume } from './consume.ts';
import { RedisBroker } from './redis.ts';

describe('the Redis queue through an outage', { skip: redisMissing }, () => {
  let server: RedisServer;
  before(async () => (server = await startRedis()));
  after(async () => server.close());

  async function runThrough(outage: () => Promise<void>, stream: string) {
    const errors: string[] = [];
    const broker = new RedisBroker(server.url, { onError: (e) => errors.push(e.message) });
    const total = 120;
    for (let i = 0; i < total / 2; i++) await broker.enqueue(stream, 'g', String(i));
    const stop = new AbortController();
    const handled: string[] = [];
    const base = { stream, group: 'g', blockMs: 200, claimIdleMs: 1500, maxDeliveries: 10, concurrency: 2 };
    const workers = ['w1', 'w2'].map((consumer) =>
      consume(broker, { ...base, consumer, signal: stop.signal }, async (m) => {
        handled.push(m.body);
        await sleep(40);
        return { incr: [{ key: `${stream}:done` }] };
      }),
    );
    await sleep(300);
    const down = outage();
    // Producers keep enqueueing during the outage: their commands wait for Redis to be back.
    const produced = (async () => {
      for (let i = total / 2; i < total; i++) await broker.enqueue(stream, 'g', String(i));
    })();
    await down;
    await produced;
    try {
      const deadline = Date.now() + 30_000;
      while (Number((await broker.get(`${stream}:done`)) ?? 0) < total && Date.now() < deadline) await sleep(100);
      stop.abort();
      await Promise.all(workers);
      assert.equal(await broker.get(`${stream}:done`), String(total), 'every message counted exactly once');
      assert.equal(new Set(handled).size, total, 'every message handled');
      assert.deepEqual(await broker.depth(stream, 'g'), { waiting: 0, pending: 0 });
      assert.deepEqual(await broker.deadLetters(stream), []);
    } finally {
      stop.abort();
      await broker.close();
    }
    return errors;
  }

  test('consumers and producers resume after Redis is stopped for 10 s and started again', async () => {
    const errors = await runThrough(async () => {
      await server.stop();
      await sleep(10_000);
      await server.start();
    }, 'restart');
    assert.ok(
      errors.some((e) => e.includes('ECONNREFUSED')),
      `the outage was seen: ${errors.join('; ')}`,
    );
  });

  test('consumers resume after Redis is frozen for 3 s', async () => {
    await runThrough(() => server.pause(3000), 'frozen');
  });
});
