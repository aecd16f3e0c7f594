// The cluster path of payload logging and tracing: what the operator hands every replica in
// CORTEX_API_SPEC carries predictor.payloadLogging (defaulted) and the OTEL_* variables of
// predictor.env, which `cortex serve` reads (runtime/payload-log/, runtime/tracing/config.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyDefaults } from '../api/v1alpha1/index.ts';
import { tracingConfig } from '../../runtime/tracing/config.ts';
import { runtimeSpecJson } from './deployment.ts';
import { parseRuntimeSpec } from './runtime-spec.ts';

test('predictor.payloadLogging and the OTLP endpoint in predictor.env reach the replica', () => {
  const spec = applyDefaults('mlp', {
    predictor: {
      type: 'python',
      path: 'predictor.py',
      image: 'registry.example.com/mlp:1',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318' },
      payloadLogging: { url: 'http://event-display.ml.svc/', sampleRate: 0.25, redactHeaders: ['X-Token'] },
    },
  });
  const served = parseRuntimeSpec(runtimeSpecJson({ name: 'mlp', namespace: 'ml', uid: 'u', generation: 1, spec }));
  assert.deepEqual(served.spec.predictor?.payloadLogging, {
    url: 'http://event-display.ml.svc/',
    mode: 'all',
    sampleRate: 0.25,
    maxBodyBytes: 65536,
    redactHeaders: ['X-Token'],
    format: 'binary',
    queueSize: 1000,
  });
  assert.equal(
    tracingConfig({ ...served.spec.predictor!.env })?.url,
    'http://otel-collector.observability:4318/v1/traces',
  );
});

test('tracing is off without an endpoint, or when the standard switches say so', () => {
  assert.equal(tracingConfig({}), undefined);
  const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' };
  assert.equal(tracingConfig({ ...on, OTEL_SDK_DISABLED: 'true' }), undefined);
  assert.equal(tracingConfig({ ...on, OTEL_TRACES_EXPORTER: 'none' }), undefined);
  // the signal's own endpoint is used as written
  assert.equal(tracingConfig({ ...on, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:1/x' })?.url, 'http://t:1/x');
  assert.throws(() => tracingConfig({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), /http\/protobuf/);
  assert.throws(
    () => tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'otel:4318' }),
    /not an http:\/\/ or https:\/\/ URL/,
  );
});
