// predictor.payloadLogging on the real API server: the CRD (generated from
// operator/api/v1alpha1/payload-logging-types.ts) stores it with its defaults filled in, and its
// checks reject a sink URL that is not http(s) and a sample rate above 1 at apply time.
// No operator: only admission is under test. Not part of `npm test`: `npm run test:cluster`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { suiteCluster } from '../helpers/test-cluster.ts';

const NS = 'payload-log';

const api = (name: string, payloadLogging: Record<string, unknown>) => ({
  apiVersion: 'cortex.dev/v1alpha1',
  kind: 'RealtimeAPI',
  metadata: { name, namespace: NS },
  spec: { predictor: { type: 'python', path: 'predictor.py', image: 'fake.invalid/p:1', payloadLogging } },
});

describe('predictor.payloadLogging on a real control plane', { concurrency: false }, () => {
  const suite = suiteCluster('cortex-payload-log-crd-test', NS);
  const apply = (obj: unknown) => suite.apply(obj);

  test('accepted and stored with its defaults', async () => {
    await apply(api('logged', { url: 'http://event-display.default.svc/', sampleRate: 0.5 }));
    const stored = await suite.cluster.kubectl.json<{ spec: { predictor: { payloadLogging: unknown } } }>([
      'get',
      'realtimeapi',
      'logged',
      '-n',
      NS,
      '-o',
      'json',
    ]);
    assert.deepEqual(stored.spec.predictor.payloadLogging, {
      url: 'http://event-display.default.svc/',
      sampleRate: 0.5,
      mode: 'all',
      maxBodyBytes: 65536,
      redactHeaders: [],
      format: 'binary',
      queueSize: 1000,
    });
  });

  test('a sink URL that is not http(s), a rate above 1 or an unknown mode is rejected', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ url: 'ftp://sink/' }, /payloadLogging\.url.*should match/s],
      [{ url: 'http://sink/', sampleRate: 2 }, /payloadLogging\.sampleRate.*less than or equal to 1/s],
      [{ url: 'http://sink/', mode: 'both' }, /payloadLogging\.mode.*Unsupported value/s],
      [{ sampleRate: 1 }, /payloadLogging\.url: Required value/],
    ];
    for (const [logging, message] of cases) {
      await assert.rejects(apply(api('bad', logging)), message, JSON.stringify(logging));
    }
  });
});
