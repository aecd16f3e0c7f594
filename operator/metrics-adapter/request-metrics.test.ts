import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MetricsApi, route } from './api.ts';
import { RequestWindows } from './request-window.ts';
import { SampleStore } from './samples.ts';
import type { ApiObject } from './scraper.ts';

const NOW = 1_700_000_060_000;
const apiObject = (name: string, labels: Record<string, string> = {}) =>
  ({
    apiVersion: 'cortex.dev/v1alpha1',
    kind: 'RealtimeAPI',
    metadata: { name, namespace: 'ml', labels },
  }) as ApiObject;

function metricsApi(): MetricsApi {
  const windows = new RequestWindows(60_000);
  // iris: 4 requests in the window, 3 in ≤ 10 ms, 1 failing in (0.5, 1] s; idle: scraped, no requests
  windows.record('ml', 'iris', 'iris-a', NOW - 30_000, { requests: 0, errors: 0, buckets: new Map() }, NOW - 3600_000);
  const buckets = new Map([
    [0.01, 3],
    [0.5, 3],
    [1, 4],
    [Infinity, 4],
  ]);
  windows.record('ml', 'iris', 'iris-a', NOW - 1000, { requests: 4, errors: 1, buckets }, NOW - 3600_000);
  windows.record('ml', 'idle', 'idle-a', NOW - 1000, { requests: 0, errors: 0, buckets: new Map() }, NOW - 3600_000);
  return new MetricsApi({
    pods: () => [],
    store: new SampleStore(),
    windowMs: () => 60_000,
    apis: () => [apiObject('iris', { team: 'a' }), apiObject('idle'), apiObject('never')],
    requests: windows,
    now: () => NOW,
  });
}

const get = (api: MetricsApi, path: string) => {
  const url = new URL(path, 'https://x');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON read field by field
  return api.answer(route(url.pathname)!, url.searchParams) as { status: number; body: Record<string, any> };
};
const base = '/apis/custom.metrics.k8s.io/v1beta2/namespaces/ml/realtimeapis.cortex.dev';

test("a RealtimeAPI's window figures are object metrics in the custom metrics API's MetricValueList shape", () => {
  const api = metricsApi();
  const p99 = get(api, `${base}/iris/cortex_request_latency_p99_seconds`);
  assert.equal(p99.status, 200);
  assert.deepEqual(p99.body, {
    kind: 'MetricValueList',
    apiVersion: 'custom.metrics.k8s.io/v1beta2',
    metadata: {},
    items: [
      {
        describedObject: { kind: 'RealtimeAPI', namespace: 'ml', name: 'iris', apiVersion: 'cortex.dev/v1alpha1' },
        metric: { name: 'cortex_request_latency_p99_seconds' },
        timestamp: new Date(NOW - 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        // the span the operator saw: from its first scrape of the API to its newest
        windowSeconds: 29,
        // rank 3.96 of 4 falls in (0.5, 1]: 0.5 + 0.5 * 0.96
        value: '980m',
      },
    ],
  });
  const value = (metric: string, v = 'v1beta2') =>
    get(api, `${base.replace('v1beta2', v)}/iris/${metric}`).body.items[0].value;
  assert.equal(value('cortex_requests'), '4');
  assert.equal(value('cortex_request_error_ratio'), '250m');
  // rank 2 of 3 in (0, 0.01]: 6.667 ms, in micro-units
  assert.equal(value('cortex_request_latency_p50_seconds'), '6667u');
  assert.equal(value('cortex_requests_per_second'), '137931u'); // 4 / 29 s
  const v1 = get(api, `${base.replace('v1beta2', 'v1beta1')}/iris/cortex_requests`).body.items[0];
  assert.equal(v1.metricName, 'cortex_requests');
  // every API of the namespace matching a label selector
  const all = get(api, `${base}/*/cortex_requests?labelSelector=team%3Da`).body.items;
  assert.deepEqual(
    all.map((i: { describedObject: { name: string } }) => i.describedObject.name),
    ['iris'],
  );
  // discovery lists them next to the pods metric
  const discovery = get(api, '/apis/custom.metrics.k8s.io/v1beta2').body.resources.map((r: { name: string }) => r.name);
  assert.ok(discovery.includes('realtimeapis.cortex.dev/cortex_request_error_ratio'), discovery.join());
});

test('no value without requests, without scrapes, or for an unknown API: a 404 Status that says which', () => {
  const api = metricsApi();
  assert.equal(get(api, `${base}/idle/cortex_requests`).body.items[0].value, '0');
  const idle = get(api, `${base}/idle/cortex_request_latency_p99_seconds`);
  assert.equal(idle.status, 404);
  assert.match(idle.body.message, /ml\/idle answered no requests in the last 1 s/);
  assert.match(get(api, `${base}/never/cortex_requests`).body.message, /no ready replica of ml\/never was scraped/);
  assert.match(
    get(api, `${base}/nope/cortex_requests`).body.message,
    /realtimeapis.cortex.dev ml\/nope does not exist/,
  );
  assert.equal(get(api, `${base}/iris/cortex_something_else`).status, 404);
  assert.equal(get(api, `${base}/*/cortex_requests?labelSelector=%3D%3D`).status, 400);
});
