// How TypeScriptWorker runs many requests (real worker threads, fixtures-ts/): predict off the
// main thread, `threads` async calls at once, thousands queued, and server-side batching (one
// predict call for a list, with per-item and whole-batch failures).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { batch, json, launch, request, stopStarted, waitFor, type Harness } from './typescript-testing.ts';

after(stopStarted);

describe('TypeScriptWorker: concurrency', () => {
  it('a CPU-heavy predict does not block the main thread', async () => {
    const h = await launch('kitchen.ts', { config: { greeting: 'hi' } });
    let maxLag = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxLag = Math.max(maxLag, now - last - 5);
      last = now;
    }, 5);
    const t0 = performance.now();
    const r = await request(h.worker, { query: 'return=busy&ms=300' });
    const took = performance.now() - t0;
    clearInterval(timer);
    assert.equal(r.status, 200);
    assert.ok(took >= 290, `the busy loop ran (${took} ms)`);
    assert.ok(maxLag < 50, `main thread timers were late by ${maxLag.toFixed(1)} ms`);
    await h.worker.shutdown(1000);
  });

  it('threads=4: four async predict calls run at once', async () => {
    const h = await launch('sleepy.ts', { threads: 4 });
    const t0 = performance.now();
    const rs = await Promise.all([1, 2, 3, 4].map((n) => request(h.worker, { body: JSON.stringify({ n }) })));
    const took = performance.now() - t0;
    assert.deepEqual(
      rs.map((r) => (json(r) as { n: number }).n),
      [1, 2, 3, 4],
    );
    assert.equal(Math.max(...rs.map((r) => (json(r) as { maxConcurrent: number }).maxConcurrent)), 4);
    assert.ok(took < 390, `4 × 200 ms with 4 threads took ${took.toFixed(0)} ms`);
    // a fifth call waits for a free slot
    const five = await Promise.all([1, 2, 3, 4, 5].map((n) => request(h.worker, { body: JSON.stringify({ n }) })));
    assert.equal(Math.max(...five.map((r) => (json(r) as { maxConcurrent: number }).maxConcurrent)), 4);
    await h.worker.shutdown(1000);
  });

  it('threads=1: async predict calls run one at a time', async () => {
    const h = await launch('sleepy.ts', { threads: 1 });
    const rs = await Promise.all([1, 2].map((n) => request(h.worker, { body: JSON.stringify({ n }) })));
    assert.equal(Math.max(...rs.map((r) => (json(r) as { maxConcurrent: number }).maxConcurrent)), 1);
    await h.worker.shutdown(1000);
  });

  it('5000 requests sent at once are all answered correctly', async () => {
    const h = await launch('trivial.ts');
    const rs = await Promise.all(
      Array.from({ length: 5000 }, (_, i) => request(h.worker, { body: `{"x":${i}}` }).then((r) => [i, r] as const)),
    );
    for (const [i, r] of rs) {
      assert.equal(r.status, 200);
      assert.deepEqual(json(r), { y: i + 1 });
    }
    assert.equal(h.worker.inFlight, 0);
    await h.worker.shutdown(1000);
  });
});

describe('TypeScriptWorker: server-side batching', () => {
  let h: Harness;
  it('predict gets the list and returns one result per payload', async () => {
    h = await launch('batch.ts', { batching: true });
    const rs = await batch(h.worker, [{ body: '1' }, { body: '{"a":2}' }, { body: '"three"' }]);
    assert.deepEqual(rs.map(json), [
      { echo: 1, batchSize: 3 },
      { echo: { a: 2 }, batchSize: 3 },
      { echo: 'three', batchSize: 3 },
    ]);
  });

  it('an item with invalid JSON → 400 alone; the others are predicted', async () => {
    const rs = await batch(h.worker, [{ body: '1' }, { body: '{oops' }, { body: '3' }]);
    assert.deepEqual(
      rs.map((r) => r.status),
      [200, 400, 200],
    );
    assert.deepEqual(json(rs[0]), { echo: 1, batchSize: 2 });
    assert.match((json(rs[1]) as { error: string }).error, /^invalid JSON/);
  });

  it('a wrong number of results → every item 500 with a clear message', async () => {
    const rs = await batch(h.worker, [{ body: '{"wrong":true}' }, { body: '2' }, { body: '3' }]);
    for (const r of rs) {
      assert.equal(r.status, 500);
      assert.match(
        (json(r) as { error: string }).error,
        /one result per payload: it got 3 payloads and returned an array of 2/,
      );
    }
  });

  it('predict throwing → every item 500', async () => {
    const rs = await batch(h.worker, [{ body: '{"fail":true}' }, { body: '2' }]);
    for (const r of rs) {
      assert.equal(r.status, 500);
      assert.deepEqual(json(r), { error: "internal server error (the exception is in the API's logs)" });
    }
    await waitFor(() => h.logs.some((l) => l.includes('batch failed on purpose')));
    const ok = await batch(h.worker, [{ body: '5' }]);
    assert.deepEqual(json(ok[0]), { echo: 5, batchSize: 1 });
    await h.worker.shutdown(1000);
  });
});
