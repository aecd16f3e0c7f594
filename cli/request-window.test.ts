import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countsOf } from './request-window.ts';
import { histogramQuantile, increase, sum, summarize } from '../operator/metrics-adapter/request-stats.ts';

const scrape = (ok: number, failed: number, buckets: [string, number][]) =>
  [
    `cortex_requests_total{api="a",status_code="200"} ${ok}`,
    `cortex_requests_total{api="a",status_code="404"} 1`,
    `cortex_requests_total{api="a",status_code="500"} ${failed}`,
    ...buckets.map(([le, n]) => `cortex_request_duration_seconds_bucket{le="${le}",api="a"} ${n}`),
    `cortex_request_duration_seconds_count{api="a"} ${ok + failed + 1}`,
  ].join('\n');

test('histogramQuantile interpolates inside the bucket as Prometheus does', () => {
  // 10 requests: 2 at most 0.1 s, 8 in (0.1, 0.25]
  const b = new Map([
    [0.1, 2],
    [0.25, 10],
    [Infinity, 10],
  ]);
  // rank 5 is the 3rd of 8 in (0.1, 0.25]: 0.1 + 0.15 * 3/8
  assert.equal(histogramQuantile(0.5, b)!.toFixed(5), (0.1 + 0.15 * (3 / 8)).toFixed(5));
  // rank 1 is in the first bucket, from 0
  assert.equal(histogramQuantile(0.1, b), 0.05);
  // in the +Inf bucket: the highest finite bound
  assert.equal(
    histogramQuantile(
      0.99,
      new Map([
        [1, 0],
        [Infinity, 4],
      ]),
    ),
    1,
  );
  assert.equal(histogramQuantile(0.5, new Map([[Infinity, 0]])), undefined);
});

test('the increase between scrapes, a restarted replica counted from zero, summed over replicas', () => {
  const before = countsOf(
    scrape(10, 2, [
      ['0.1', 13],
      ['+Inf', 13],
    ]),
  );
  assert.deepEqual(before, {
    requests: 13,
    errors: 2,
    buckets: new Map([
      [0.1, 13],
      [Infinity, 13],
    ]),
  });
  const after = countsOf(
    scrape(14, 4, [
      ['0.1', 15],
      ['+Inf', 19],
    ]),
  );
  const added = increase(before, after);
  assert.deepEqual(added, {
    requests: 6,
    errors: 2,
    buckets: new Map([
      [0.1, 2],
      [Infinity, 6],
    ]),
  });
  const restarted = countsOf(
    scrape(1, 0, [
      ['0.1', 2],
      ['+Inf', 2],
    ]),
  );
  assert.equal(increase(after, restarted).requests, 2, 'a counter that went down started again from 0');
  const total = sum([added, restarted]);
  assert.equal(total.requests, 8);
  assert.equal(total.buckets.get(Infinity), 8);
});

test('summarize: error ratio over answered requests and percentiles in milliseconds', () => {
  const s = summarize(
    {
      requests: 8,
      errors: 2,
      buckets: new Map([
        [0.1, 2],
        [Infinity, 8],
      ]),
    },
    59.6,
  );
  assert.equal(s.windowSeconds, 60);
  assert.equal(s.requests, 8);
  assert.equal(s.errorRatio, 0.25);
  assert.equal(s.p99Ms, 100);
  assert.deepEqual(summarize({ requests: 0, errors: 0, buckets: new Map() }, 300), { windowSeconds: 300, requests: 0 });
});
