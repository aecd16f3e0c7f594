import assert from 'node:assert/strict';
import { test } from 'node:test';
import client from 'prom-client';
import { apiLogger } from '../operator/util/log.ts';
import { CustomMetrics, MAX_SERIES_PER_METRIC } from './custom-metrics.ts';

function setup() {
  const registry = new client.Registry();
  const lines: string[] = [];
  const logger = apiLogger('iris', 'info', (chunk) => lines.push(chunk));
  const custom = new CustomMetrics(registry, 'iris', logger);
  const text = () => registry.metrics();
  const logged = () => {
    logger.flush();
    return lines.join('').trim().split('\n');
  };
  return { custom, text, logged };
}

test('counters add up, gauges keep their last value, histograms observe; series carry api and tags', async () => {
  const { custom, text } = setup();
  custom.record([
    ['counter', 'my_counter', 1, { model: 'v1' }],
    ['counter', 'my_counter', 2, { model: 'v1' }],
    ['counter', 'my_counter', 1, { model: 'v2' }],
    ['gauge', 'my_gauge', 42, null],
    ['gauge', 'my_gauge', 7, null],
    ['histogram', 'my_histogram', 0.3, { model: 'v1' }],
  ]);
  const out = await text();
  assert.match(out, /^my_counter\{api="iris",model="v1"\} 3$/m);
  assert.match(out, /^my_counter\{api="iris",model="v2"\} 1$/m);
  assert.match(out, /^my_gauge\{api="iris"\} 7$/m);
  assert.match(out, /^my_histogram_count\{api="iris",model="v1"\} 1$/m);
  assert.match(out, /^my_histogram_bucket\{le="0.5",api="iris",model="v1"\} 1$/m);
});

test('a record that breaks a rule is counted as dropped by reason and logged once, never exported', async () => {
  const { custom, text, logged } = setup();
  custom.record([
    ['counter', 'requests', 1, { model: 'v1' }],
    ['gauge', 'requests', 1, { model: 'v1' }], // the kind changed
    ['counter', 'requests', 1, { region: 'eu' }], // the tags changed
    ['counter', 'requests', 1, { region: 'eu' }],
    ['counter', 'cortex_requests_total', 1, null], // the runtime's own namespace
    ['counter', 'negative', -1, null],
    ['gauge', 'bad tag', 1, { api: 'x' }],
  ]);
  const out = await text();
  assert.match(out, /^requests\{api="iris",model="v1"\} 1$/m);
  assert.doesNotMatch(out, /region|cortex_requests_total\{|^negative/m);
  assert.match(out, /cortex_custom_metrics_dropped_total\{api="iris",reason="kind_changed"\} 1/);
  assert.match(out, /cortex_custom_metrics_dropped_total\{api="iris",reason="tags_changed"\} 2/);
  assert.match(out, /cortex_custom_metrics_dropped_total\{api="iris",reason="invalid"\} 3/);
  const warnings = logged();
  assert.equal(warnings.filter((l) => l.includes('tags_changed')).length, 1, 'logged once per metric and reason');
  assert.ok(warnings.some((l) => l.includes('Prometheus needs the same tag names on every call')));
});

test('a tag holding an id cannot grow one metric past the series cap', async () => {
  const { custom, text } = setup();
  const records = Array.from({ length: MAX_SERIES_PER_METRIC + 5 }, (_, i) => [
    'counter',
    'per_user',
    1,
    { user: `u${i}` },
  ]) as Parameters<CustomMetrics['record']>[0];
  custom.record(records);
  custom.record([['counter', 'per_user', 1, { user: 'u0' }]]); // an existing series still counts
  const out = await text();
  assert.equal(out.match(/^per_user\{/gm)?.length, MAX_SERIES_PER_METRIC);
  assert.match(out, /^per_user\{api="iris",user="u0"\} 2$/m);
  assert.match(out, /reason="too_many_series"\} 5/);
});
