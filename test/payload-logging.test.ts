// predictor.payload_logging end to end (docs/payload-logging.md): real `cortex serve` processes
// whose cortex.yaml names an HTTP sink on loopback (tes./helpers/event-sink.ts). Sampled requests
// and responses arrive as CloudEvents (binary and structured), secrets redacted, bodies cut at the
// cap; a sink that never answers slows no request, and what it cannot take is counted as dropped.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventSink, type EventSink } from './helpers/event-sink.ts';
import { serve, waitFor, type Served } from './helpers/serve.ts';

const PREDICTOR =
  'export default class Echo {\n' +
  '  predict(payload: unknown) {\n' +
  '    return payload instanceof Uint8Array ? payload : { echo: payload };\n' +
  '  }\n}\n';

/** A project of one TypeScript echo API whose predictor.payload_logging is `logging` (YAML flow). */
function project(logging: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cortex-payload-log-'));
  writeFileSync(path.join(dir, 'predictor.ts'), PREDICTOR);
  writeFileSync(
    path.join(dir, 'cortex.yaml'),
    `- name: echo\n  kind: RealtimeAPI\n  predictor:\n    type: typescript\n    path: predictor.ts\n` +
      `    payload_logging: ${logging}\n`,
  );
  return dir;
}

/**
 * For the tests of a describe: a sink and a `cortex serve` of the echo API logging to it with the
 * payload_logging `fields` (YAML flow, without the url); both stopped after them.
 */
function servedWithSink(fields: string, options: { hang?: boolean } = {}) {
  const at: { sink: EventSink; served: Served; dir: string } = {} as never;
  before(async () => {
    at.sink = await eventSink(options);
    at.dir = project(`{url: "${at.sink.url}", ${fields}}`);
    at.served = await serve(at.dir);
  });
  after(async () => {
    await at.served?.stop();
    await at.sink?.close();
    if (at.dir) rmSync(at.dir, { recursive: true, force: true });
  });
  return at;
}

describe('binary CloudEvents, redaction and truncation', () => {
  const at = servedWithSink('max_body_bytes: 16, redact_headers: [X-Secret]');

  test('a request and its response arrive as two events sharing a ce-id', async () => {
    const body = JSON.stringify({ text: 'a body longer than sixteen bytes' });
    const res = await fetch(`${at.served.url}/?lang=en`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer secret-key',
        cookie: 'session=1',
        'x-secret': 'hidden',
        'x-request-id': 'req-1',
        'x-kept': 'visible',
      },
      body,
    });
    const answer = await res.text();
    assert.equal(res.status, 200);
    await waitFor('two events', () => (at.sink.events.length >= 2 ? true : undefined));
    const request = at.sink.events.find((e) => e.ce.type === 'org.cortex.request')!;
    const response = at.sink.events.find((e) => e.ce.type === 'org.cortex.response')!;
    assert.ok(request && response, JSON.stringify(at.sink.events.map((e) => e.ce)));
    assert.equal(request.ce.id, response.ce.id);
    assert.match(request.ce.id, /^[0-9a-f-]{36}$/);
    for (const e of [request, response]) {
      assert.equal(e.ce.specversion, '1.0');
      assert.equal(e.ce.source, '/cortex/apis/echo');
      assert.equal(e.ce.cortexapi, 'echo');
      assert.equal(e.ce.cortexrequestid, 'req-1');
      assert.ok(!Number.isNaN(Date.parse(e.ce.time)));
    }
    // the request: its body cut at 16 bytes, its size and the cut said; secrets redacted
    assert.equal(request.headers['content-type'], 'application/json');
    assert.equal(request.body.toString(), body.slice(0, 16));
    assert.equal(request.ce.cortextruncated, 'true');
    assert.equal(request.ce.cortexbodysize, String(body.length));
    assert.equal(request.ce.cortexmethod, 'POST');
    assert.equal(request.ce.cortexquery, 'lang=en');
    const headers = JSON.parse(request.ce.cortexheaders) as Record<string, string>;
    assert.equal(headers.authorization, 'REDACTED');
    assert.equal(headers.cookie, 'REDACTED');
    assert.equal(headers['x-secret'], 'REDACTED', 'redact_headers, in any case');
    assert.equal(headers['x-kept'], 'visible');
    assert.ok(!JSON.stringify(at.sink.events.map((e) => [e.ce, e.body.toString()])).includes('secret-key'));
    // the response: the status, the answer (cut too)
    assert.equal(response.ce.cortexstatus, '200');
    assert.equal(response.body.toString(), answer.slice(0, 16));
    assert.equal(response.ce.cortextruncated, 'true');
  });
});

describe('structured CloudEvents', () => {
  const at = servedWithSink('format: structured, mode: request');

  test('JSON bodies become data, other bytes data_base64; mode request sends no response', async () => {
    await fetch(at.served.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":[1,2]}',
    });
    const bytes = Buffer.from([0, 1, 2, 250]);
    const res = await fetch(at.served.url, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    assert.equal(res.status, 200);
    await waitFor('two events', () => (at.sink.events.length >= 2 ? true : undefined));
    await new Promise((r) => setTimeout(r, 200)); // a response event, were one sent, would be here by now
    assert.equal(at.sink.events.length, 2);
    const docs = at.sink.events.map((e) => {
      assert.equal(e.headers['content-type'], 'application/cloudevents+json; charset=utf-8');
      return JSON.parse(e.body.toString()) as Record<string, unknown>;
    });
    const json = docs.find((d) => d.datacontenttype === 'application/json')!;
    const binary = docs.find((d) => d.datacontenttype === 'application/octet-stream')!;
    assert.equal(json.type, 'org.cortex.request');
    assert.equal(json.specversion, '1.0');
    assert.deepEqual(json.data, { a: [1, 2] });
    assert.equal(binary.data_base64, bytes.toString('base64'));
    assert.equal(binary.data, undefined);
  });
});

describe('a sink that never answers', () => {
  const at = servedWithSink('queue_size: 3', { hang: true });

  test('slows no request, and the events it cannot take are counted as dropped', async () => {
    const slowest = { ms: 0 };
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const res = await fetch(at.served.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '1',
      });
      assert.equal(res.status, 200);
      await res.text();
      slowest.ms = Math.max(slowest.ms, performance.now() - started);
    }
    // the sink holds 4 POSTs open (the sender's concurrency), 3 more wait: 40 events, 33 dropped
    assert.ok(slowest.ms < 2000, `slowest request ${slowest.ms} ms`);
    assert.equal(at.sink.received(), 4);
    const metrics = await (await fetch(`${at.served.url}/metrics`)).text();
    const dropped = /cortex_payload_log_dropped_total\{api="echo",reason="queue_full"\} (\d+)/.exec(metrics);
    assert.equal(Number(dropped?.[1]), 33, metrics);
  });
});
