import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePrometheus } from './metrics.ts';

test('the runtime metrics are read by name and labels', () => {
  const text = [
    '# HELP cortex_requests_total Prediction requests answered, by HTTP status code.',
    '# TYPE cortex_requests_total counter',
    'cortex_requests_total{api="iris",status_code="200"} 12',
    'cortex_requests_total{api="iris",status_code="500"} 1',
    'cortex_request_duration_seconds_sum{api="iris"} 0.026',
    'cortex_request_duration_seconds_count{api="iris"} 13',
    'cortex_request_duration_seconds_bucket{le="+Inf",api="iris"} 13',
  ].join('\n');
  const samples = parsePrometheus(text);
  assert.deepEqual(samples[0], {
    name: 'cortex_requests_total',
    labels: { api: 'iris', status_code: '200' },
    value: 12,
  });
  assert.equal(samples.find((s) => s.name === 'cortex_request_duration_seconds_count')?.value, 13);
  assert.equal(samples.find((s) => s.name === 'cortex_request_duration_seconds_bucket')?.labels.le, '+Inf');
});
