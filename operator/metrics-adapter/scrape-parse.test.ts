import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RuntimeMetrics } from '../../runtime/metrics.ts';
import { countsOf } from '../../cli/request-window.ts';
import { parseScrape } from './scrape-parse.ts';

test(
  "what the runtime's own registry writes (runtime/metrics.ts) is read back: " +
    'in-flight and requests over every status',
  async () => {
    let inFlight = 3;
    const metrics = new RuntimeMetrics('iris', {
      inFlight: () => inFlight,
      queueLength: () => 1,
      workersReady: () => 2,
    });
    const { counts, ...idle } = parseScrape(await metrics.render());
    assert.deepEqual(
      idle,
      { inFlight: 3, requestsTotal: 0, reloadFailing: [] },
      'no request yet: the counter may be absent',
    );
    assert.equal(counts.requests, 0);
    metrics.observeRequest(200, 0.01);
    metrics.observeRequest(200, 0.01);
    metrics.observeRequest(500, 0.3);
    inFlight = 0;
    const text = await metrics.render();
    const scraped = parseScrape(text);
    assert.deepEqual(
      { ...scraped, counts: undefined },
      { inFlight: 0, requestsTotal: 3, reloadFailing: [], counts: undefined },
    );
    // requests by status and the latency buckets, read as the CLI's own parser reads them
    assert.equal(scraped.counts.requests, 3);
    assert.equal(scraped.counts.errors, 1);
    assert.equal(scraped.counts.buckets.get(Infinity), 3);
    assert.deepEqual(scraped.counts, countsOf(text));
  },
);

test("the runtime's cortex_model_reload_failing: the models at 1, not those back at 0", async () => {
  const metrics = new RuntimeMetrics('iris', { inFlight: () => 0, queueLength: () => 0, workersReady: () => 1 });
  metrics.modelReloadFailing('(path)', true);
  metrics.modelReloadFailing('b', true);
  metrics.modelReloadFailing('a', true);
  metrics.modelReloadFailing('b', false);
  assert.deepEqual(parseScrape(await metrics.render()).reloadFailing, ['(path)', 'a']);
});

test('fractional and exponent values are read; several series are summed', () => {
  const text = [
    '# TYPE cortex_in_flight_requests gauge',
    'cortex_in_flight_requests{api="a"} 1.5',
    'cortex_in_flight_requests{api="b"} 2e0',
    '# TYPE cortex_requests_total counter',
    'cortex_requests_total{api="a",status_code="200"} 10',
    '',
  ].join('\n');
  const { counts, ...rest } = parseScrape(text);
  assert.deepEqual(rest, { inFlight: 3.5, requestsTotal: 10, reloadFailing: [] });
  assert.deepEqual(counts, { requests: 10, errors: 0, buckets: new Map() });
});

test("an answer that is not a Cortex replica's metrics is an error, never a zero", () => {
  assert.throws(
    () => parseScrape('<html><body>502 Bad Gateway</body></html>\n'),
    /no cortex_in_flight_requests sample/,
  );
  assert.throws(() => parseScrape(''), /no cortex_in_flight_requests sample/);
  assert.throws(() => parseScrape('cortex_in_flight_requests NaN\n'), /value "NaN", expected a number/);
  assert.throws(() => parseScrape('cortex_in_flight_requests -1\n'), /value "-1"/);
  assert.throws(() => parseScrape('cortex_in_flight_requests{api="a} 1\n'), /cortex_in_flight_requests/);
  assert.throws(
    () => parseScrape('# TYPE cortex_in_flight_requests counter\ncortex_in_flight_requests 1\n'),
    /is a counter, expected a gauge/,
  );
});
