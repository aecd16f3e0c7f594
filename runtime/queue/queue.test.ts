// The queue's semantics, the same cases against a real redis-server, the in-process twin, and the
// twin served over HTTP to another process's HttpBroker (the local environment without Redis).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisMissing, startRedis, type RedisServer } from '../../test/helpers/redis-server.ts';
import { consume } from './consume.ts';
import { MemoryBroker } from './memory.ts';
import { openBroker } from './open.ts';
import { serveBroker } from './rpc.ts';
import type { Broker, ReadOptions } from './types.ts';

const opts: ReadOptions = { count: 10, blockMs: 0, claimIdleMs: 300, maxDeliveries: 3 };
let n = 0;
const fresh = () => `q${process.pid}-${n++}`;

for (const kind of ['redis', 'memory', 'rpc'] as const) {
  describe(`queue on ${kind}`, { skip: kind === 'redis' ? redisMissing : undefined }, () => {
    let server: RedisServer | undefined;
    let broker: Broker;
    let served: { url: string; close(): Promise<void> } | undefined;
    const memory = new MemoryBroker();
    before(async () => {
      if (kind === 'redis') server = await startRedis();
      if (kind === 'rpc') served = await serveBroker(memory);
      broker = server ? openBroker(server.url) : served ? openBroker(served.url) : memory;
    });
    after(async () => {
      await broker.close();
      await served?.close();
      await memory.close();
      await server?.close();
    });

    test('a message goes to one consumer, its ack removes it and applies its effects once', async () => {
      const s = fresh();
      const id = await broker.enqueue(s, 'g', 'hello', { put: [{ key: `${s}:status`, value: 'in_queue' }] });
      assert.equal(await broker.get(`${s}:status`), 'in_queue');
      assert.deepEqual(await broker.depth(s, 'g'), { waiting: 1, pending: 0 });
      assert.deepEqual(await broker.read(s, 'g', 'a', opts), [{ id, body: 'hello', deliveries: 1 }]);
      assert.deepEqual(await broker.read(s, 'g', 'b', opts), [], 'not delivered twice while pending');
      assert.deepEqual(await broker.depth(s, 'g'), { waiting: 0, pending: 1 });
      const effects = { put: [{ key: `${s}:status`, value: 'done' }], incr: [{ key: `${s}:count` }] };
      assert.equal(await broker.ack(s, 'g', id, effects), true);
      assert.equal(await broker.ack(s, 'g', id, effects), false, 'a second ack does nothing');
      assert.deepEqual(await broker.getMany([`${s}:status`, `${s}:count`, `${s}:none`]), ['done', '1', undefined]);
      assert.deepEqual(await broker.depth(s, 'g'), { waiting: 0, pending: 0 });
    });

    test("a dead consumer's message is re-delivered to another after claimIdleMs", async () => {
      const s = fresh();
      const id = await broker.enqueue(s, 'g', 'job');
      await broker.read(s, 'g', 'dies', opts);
      assert.deepEqual(await broker.read(s, 'g', 'other', opts), [], 'not yet idle long enough');
      await sleep(opts.claimIdleMs + 100);
      assert.deepEqual(await broker.read(s, 'g', 'other', opts), [{ id, body: 'job', deliveries: 2 }]);
      assert.equal(await broker.touch(s, 'g', 'dies', id), false, 'the dead one no longer owns it');
      assert.equal(await broker.ack(s, 'g', id), true);
    });

    test('touch keeps a slow handler its message; release hands it on at once', async () => {
      const s = fresh();
      const id = await broker.enqueue(s, 'g', 'slow');
      await broker.read(s, 'g', 'slow', opts);
      for (let i = 0; i < 4; i++) {
        await sleep(opts.claimIdleMs / 2);
        assert.equal(await broker.touch(s, 'g', 'slow', id), true);
      }
      assert.deepEqual(await broker.read(s, 'g', 'other', opts), []);
      await broker.release(s, 'g', id);
      assert.deepEqual(await broker.read(s, 'g', 'other', opts), [{ id, body: 'slow', deliveries: 2 }]);
    });

    test('a message delivered more than maxDeliveries times goes to the dead-letter stream', async () => {
      const s = fresh();
      const id = await broker.enqueue(s, 'g', 'poison');
      for (let i = 1; i <= opts.maxDeliveries; i++) {
        const [m] = await broker.read(s, 'g', `c${i}`, opts);
        assert.equal(m?.deliveries, i);
        await broker.release(s, 'g', id);
      }
      assert.deepEqual(await broker.read(s, 'g', 'last', opts), []);
      assert.deepEqual(await broker.deadLetters(s), [{ id, body: 'poison', deliveries: opts.maxDeliveries + 1 }]);
      assert.deepEqual(await broker.depth(s, 'g'), { waiting: 0, pending: 0 });
      await broker.deleteStream(s);
      assert.deepEqual(await broker.deadLetters(s), []);
    });

    test('keys and counters expire after their TTL', async () => {
      const s = fresh();
      await broker.put(`${s}:a`, 'x', 200);
      await broker.put(`${s}:keep`, 'y');
      const id = await broker.enqueue(s, 'g', '');
      await broker.read(s, 'g', 'a', opts);
      await broker.ack(s, 'g', id, { incr: [{ key: `${s}:n`, by: 5, ttlMs: 200 }] });
      assert.equal(await broker.incr(`${s}:n`), 6);
      assert.equal(await broker.get(`${s}:a`), 'x');
      await sleep(350);
      assert.deepEqual(await broker.getMany([`${s}:a`, `${s}:n`, `${s}:keep`]), [undefined, undefined, 'y']);
      await broker.delete(`${s}:keep`);
      assert.equal(await broker.get(`${s}:keep`), undefined);
    });

    test('a blocked read wakes up for a new message', async () => {
      const s = fresh();
      await broker.depth(s, 'g');
      const reading = broker.read(s, 'g', 'a', { ...opts, blockMs: 5000 });
      await sleep(100);
      const started = Date.now();
      await broker.enqueue(s, 'g', 'wake');
      const got = await reading;
      assert.equal(got[0]?.body, 'wake');
      assert.ok(Date.now() - started < 2000);
    });

    test('consumers sharing a group with one dying mid-way count every message exactly once', async () => {
      const s = fresh();
      const total = 60;
      for (let i = 0; i < total; i++) await broker.enqueue(s, 'g', String(i));
      const seen: string[] = [];
      const live = new AbortController();
      const base = { stream: s, group: 'g', blockMs: 100, claimIdleMs: 300, maxDeliveries: 5, concurrency: 3 };
      // A consumer whose process was killed: it took three messages and will never ack them.
      assert.equal((await broker.read(s, 'g', 'killed', { ...opts, count: 3 })).length, 3);
      const workers = ['w1', 'w2'].map((consumer) =>
        consume(broker, { ...base, consumer, signal: live.signal }, async (m) => {
          seen.push(m.body);
          await sleep(2);
          return { incr: [{ key: `${s}:done` }] };
        }),
      );
      const deadline = Date.now() + 20_000;
      while (Number((await broker.get(`${s}:done`)) ?? 0) < total && Date.now() < deadline) await sleep(50);
      live.abort();
      await Promise.all(workers);
      assert.equal(await broker.get(`${s}:done`), String(total));
      assert.equal(new Set(seen).size, total, 'every message handled');
      assert.deepEqual(await broker.depth(s, 'g'), { waiting: 0, pending: 0 });
    });
  });
}
