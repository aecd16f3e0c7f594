// The payload logger against a real HTTP sink on loopback: sampling, modes, a sink that refuses or
// is not there (counted as send_failed), and the spec's checks of predictor.payloadLogging.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import client from 'prom-client';
import { applyDefaults, validateSpec, type RealtimeApiSpecInput } from '../../operator/api/v1alpha1/index.ts';
import { apiLogger } from '../../operator/util/log.ts';
import { eventSink } from '../../test/helpers/event-sink.ts';
import { waitFor } from '../../test/helpers/serve.ts';
import { BodyKind, type PredictJob } from '../workers/types.ts';
import { PayloadLog } from './payload-log.ts';
import { encodeValue } from './cloudevents.ts';

function job(body: string): PredictJob {
  return {
    id: 1,
    body: Buffer.from(body),
    contentType: 'application/json',
    query: '',
    rawHeaders: ['Content-Type', 'application/json'],
    done: () => {},
  };
}

function logger(url: string, fields: Record<string, unknown>, random?: () => number) {
  const spec = applyDefaults('api', {
    predictor: { type: 'python', path: 'p.py', payloadLogging: { url, ...fields } },
  } as RealtimeApiSpecInput).predictor!.payloadLogging!;
  const registry = new client.Registry();
  const log = new PayloadLog({ api: 'api', spec, registry, logger: apiLogger('api', 'error'), random, timeoutMs: 500 });
  return { log, registry };
}

async function dropped(registry: client.Registry, reason: string): Promise<number> {
  const metric = await registry.getSingleMetric('cortex_payload_log_dropped_total')!.get();
  return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

test('sample_rate: a request is copied when the coin falls under the rate, with its response', async () => {
  const sink = await eventSink();
  const coins = [0.1, 0.9, 0.49, 0.5];
  const { log } = logger(sink.url, { sampleRate: 0.5 }, () => coins.shift()!);
  const ids = ['a', 'b', 'c', 'd'].map((x) => {
    const j = job(`"${x}"`);
    const id = log.request(j, 'POST');
    if (id !== undefined) log.response(id, j, { status: 200, kind: BodyKind.Json, body: Buffer.from('1') });
    return id;
  });
  assert.deepEqual(
    ids.map((id) => id !== undefined),
    [true, false, true, false],
  );
  await waitFor('four events', () => (sink.events.length === 4 ? true : undefined));
  assert.deepEqual(sink.events.map((e) => e.body.toString()).sort(), ['"a"', '"c"', '1', '1']);
  await log.close(1000);
  await sink.close();
});

test('mode response sends only responses; the request still decides the sampling', async () => {
  const sink = await eventSink();
  const { log } = logger(sink.url, { mode: 'response' });
  const j = job('{}');
  const id = log.request(j, 'POST')!;
  log.response(id, j, { status: 500, kind: BodyKind.Json, body: Buffer.from('{"error":"x"}') });
  await waitFor('an event', () => (sink.events.length === 1 ? true : undefined));
  assert.equal(sink.events[0].ce.type, 'org.cortex.response');
  assert.equal(sink.events[0].ce.cortexstatus, '500');
  await log.close(1000);
  await sink.close();
});

test('a sink that is not there or does not answer in time: send_failed, counted', async () => {
  const down = await eventSink();
  const url = down.url;
  await down.close(); // nothing listens there now
  const { log, registry } = logger(url, { mode: 'request' });
  log.request(job('1'), 'POST');
  await waitFor('a failed send', async () => ((await dropped(registry, 'send_failed')) === 1 ? true : undefined));

  const hanging = await eventSink({ hang: true });
  const slow = logger(hanging.url, { mode: 'request' });
  slow.log.request(job('1'), 'POST');
  // timeoutMs 500 in these tests
  await waitFor('a timed-out send', async () =>
    (await dropped(slow.registry, 'send_failed')) === 1 ? true : undefined,
  );
  await log.close(100);
  await slow.log.close(100);
  await hanging.close();
});

test('ce- header values are percent-encoded as the CloudEvents HTTP binding asks', () => {
  assert.equal(encodeValue('plain-value_1.2'), 'plain-value_1.2');
  assert.equal(encodeValue('{"a": "é%"}'), '{%22a%22:%20%22%C3%A9%25%22}');
  assert.equal(decodeURIComponent(encodeValue('{"a": "é%"}')), '{"a": "é%"}');
});

test('predictor.payloadLogging: a bad URL or rate is an error that names the field and the fix', () => {
  const issues = (payloadLogging: Record<string, unknown>) =>
    validateSpec(
      applyDefaults('api', { predictor: { type: 'python', path: 'p.py', payloadLogging } } as RealtimeApiSpecInput),
    );
  assert.deepEqual(issues({ url: 'http://sink.default.svc/' }), []);
  const [bad] = issues({ url: 'ftp://sink' });
  assert.equal(bad.path.join('.'), 'predictor.payloadLogging.url');
  assert.match(bad.message, /http:\/\/ or https:\/\/ URL/);
  assert.ok(bad.fix);
  const [rate] = issues({ url: 'http://sink/', sampleRate: 2 });
  assert.equal(rate.path.join('.'), 'predictor.payloadLogging.sampleRate');
  assert.equal(issues({}).length, 1, 'url is required');
});
