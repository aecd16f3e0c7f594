// Traces end to end (docs/tracing.md): requests with a W3C traceparent go through the local gateway
// to replicas whose predictor.env names an OTLP endpoint, a real OTLP/HTTP receiver on loopback
// (test/helpers/otlp-receiver.ts) decodes the spans they export, and the predictors (Python with
// opentelemetry-api installed from requirements.txt, TypeScript) answer with the context they saw.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { copyProject, localEnv, type LocalEnv } from './helpers/local.ts';
import { otlpReceiver, type OtlpReceiver, type ReceivedSpan } from './helpers/otlp-receiver.ts';
import { postJson, serve, waitFor } from './helpers/serve.ts';

const CALLER_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';

function traceparent(traceId: string, spanId: string): string {
  return `00-${traceId}-${spanId}-01`;
}

/** The spans of a trace once `count` of them arrived (the runtime exports every 100 ms here). */
function spansOf(receiver: OtlpReceiver, traceId: string, count: number): Promise<ReceivedSpan[]> {
  return waitFor(`${count} spans of trace ${traceId}`, () => {
    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    return spans.length >= count ? spans : undefined;
  });
}

/** POSTs {} with a traceparent of `traceId` (parent CALLER_SPAN); the predictor's answer. */
async function predictTraced(url: string, traceId: string): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: traceparent(traceId, CALLER_SPAN) },
    body: '{}',
  });
  assert.equal(res.status, 200);
  return res.json();
}

function one(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name);
  assert.equal(found.length, 1, `one ${name} span in ${JSON.stringify(spans)}`);
  return found[0];
}

describe('W3C trace context through the gateway and the runtime to OTLP', { concurrency: false }, () => {
  let local: LocalEnv;
  let receiver: OtlpReceiver;
  let project: string;
  before(async () => {
    receiver = await otlpReceiver();
    project = copyProject('test/fixtures/tracing');
    const yaml = path.join(project, 'cortex.yaml');
    writeFileSync(yaml, readFileSync(yaml, 'utf8').replace('http://receiver.invalid', receiver.endpoint));
    local = await localEnv();
    const r = await local.cortex(['deploy', project], { timeoutMs: 240_000 });
    assert.equal(r.code, 0, r.stderr + r.stdout);
  });
  after(async () => {
    await local?.cleanup();
    await receiver?.close();
    if (project) rmSync(project, { recursive: true, force: true });
  });

  test('a Python predictor runs in cortex.predict, child of the request span, child of the caller', async () => {
    const res = await fetch(local.url('/traced'), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        traceparent: traceparent(CALLER_TRACE, CALLER_SPAN),
        tracestate: 'vendor=abc',
      },
      body: '{"x": 1}',
    });
    assert.equal(res.status, 200);
    const seen = (await res.json()) as Record<string, unknown>;
    const spans = await spansOf(receiver, CALLER_TRACE, 3);
    const server = one(spans, 'POST /');
    const queue = one(spans, 'cortex.queue');
    const predict = one(spans, 'cortex.predict');
    assert.equal(server.parentSpanId, CALLER_SPAN, 'the request span continues the caller’s trace');
    assert.equal(server.kind, 2, 'SERVER');
    assert.equal(server.service, 'traced');
    assert.equal(server.attributes['http.response.status_code'], 200);
    assert.equal(queue.parentSpanId, server.spanId);
    assert.equal(predict.parentSpanId, server.spanId);
    // the predictor saw the predict span, raw, as its current OpenTelemetry span, and through context()
    assert.equal(seen.traceparent, traceparent(CALLER_TRACE, predict.spanId));
    assert.equal(seen.tracestate, 'vendor=abc');
    assert.deepEqual(seen.current, [CALLER_TRACE, predict.spanId]);
    assert.deepEqual(seen.explicit, [CALLER_TRACE, predict.spanId]);
    // the caller's own context, from the headers the gateway passed on unchanged
    assert.deepEqual(seen.caller, [CALLER_TRACE, CALLER_SPAN]);
  });

  test('a request without a traceparent starts a trace of its own', async () => {
    const before = new Set(receiver.spans.map((s) => s.traceId));
    const res = await fetch(local.url('/traced'), { method: 'POST', body: '{}' });
    const seen = (await res.json()) as { traceparent: string };
    const traceId = seen.traceparent.split('-')[1];
    assert.ok(!before.has(traceId));
    const server = one(await spansOf(receiver, traceId, 3), 'POST /');
    assert.equal(server.parentSpanId, '', 'a root span');
  });

  test('a server-side batch is one cortex.batch span, linked to each request: the predictor’s context', async () => {
    const ids = ['1', '2', '3'].map((d) => d.repeat(32));
    const answers = await Promise.all(
      ids.map(async (traceId) => {
        const res = await fetch(local.url('/traced-batch'), {
          method: 'POST',
          headers: { 'content-type': 'application/json', traceparent: traceparent(traceId, 'a'.repeat(16)) },
          body: '{}',
        });
        assert.equal(res.status, 200);
        return (await res.json()) as { traceparent: string; current: string[] };
      }),
    );
    const servers = await Promise.all(ids.map(async (id) => one(await spansOf(receiver, id, 2), 'POST /')));
    const batch = await waitFor('the batch span', () => receiver.spans.find((s) => s.name === 'cortex.batch'));
    assert.equal(batch.attributes['cortex.batch.size'], 3);
    assert.deepEqual(
      batch.links.map((l) => l.spanId).sort(),
      servers.map((s) => s.spanId).sort(),
      'linked to each request span',
    );
    assert.ok(servers.some((s) => s.spanId === batch.parentSpanId && s.traceId === batch.traceId));
    for (const seen of answers) {
      assert.equal(seen.traceparent, traceparent(batch.traceId, batch.spanId));
      assert.deepEqual(seen.current, [batch.traceId, batch.spanId]);
    }
  });

  test('a Handler’s handle_post runs in its cortex.predict span', async () => {
    const traceId = 'd'.repeat(32);
    const seen = (await predictTraced(local.url('/traced-handler'), traceId)) as { traceparent: string };
    const predict = one(await spansOf(receiver, traceId, 3), 'cortex.predict');
    assert.equal(seen.traceparent, traceparent(traceId, predict.spanId));
  });

  test('a TypeScript predictor gets ctx.traceparent and ctx.traceContext of its cortex.predict span', async () => {
    const traceId = 'c'.repeat(32);
    const seen = (await predictTraced(local.url('/traced-ts'), traceId)) as { traceparent: string; context: string[] };
    const spans = await spansOf(receiver, traceId, 3);
    const predict = one(spans, 'cortex.predict');
    assert.equal(one(spans, 'POST /').parentSpanId, CALLER_SPAN);
    assert.equal(seen.traceparent, traceparent(traceId, predict.spanId));
    assert.deepEqual(seen.context, [traceId, predict.spanId]);
  });
});

describe('a collector that is down', () => {
  test('fails no request and does not hold the replica when it stops', async () => {
    const gone = await otlpReceiver();
    await gone.close(); // nothing listens at its address any more
    const dir = mkdtempSync(path.join(tmpdir(), 'cortex-tracing-down-'));
    writeFileSync(path.join(dir, 'predictor.ts'), 'export default class E { predict(p: unknown) { return p; } }\n');
    writeFileSync(
      path.join(dir, 'cortex.yaml'),
      '- name: echo\n  kind: RealtimeAPI\n  predictor:\n    type: typescript\n    path: predictor.ts\n' +
        `    env: {OTEL_EXPORTER_OTLP_ENDPOINT: "${gone.endpoint}", OTEL_BSP_SCHEDULE_DELAY: "50"}\n`,
    );
    const served = await serve(dir);
    try {
      assert.match(served.stdout(), /exporting traces to http:\/\/127\.0\.0\.1:\d+\/v1\/traces/);
      for (let i = 0; i < 20; i++) {
        const res = await postJson(served.url, i, { traceparent: traceparent(CALLER_TRACE, CALLER_SPAN) });
        assert.equal(res.status, 200);
        assert.equal(await res.text(), String(i));
      }
      await new Promise((r) => setTimeout(r, 200)); // exports have been tried and failed
    } finally {
      const stopping = performance.now();
      await served.stop();
      assert.ok(performance.now() - stopping < 5000, 'stopped within the grace period and the 1 s flush');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
