// `cortex serve` streaming answers (docs/streaming.md) from a Python generator and from its
// TypeScript twin (test/fixtures/streaming): chunks leave as they are produced, SSE and NDJSON
// framing, a slow client slows the generator, a client that leaves stops it, a failure after
// the first byte ends the body visibly, and a stream counts in flight until it ends.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot, serve, waitFor, type Served } from './helpers/serve.ts';
import { rssBytes, slowClient, streamRequest } from './helpers/stream-client.ts';

const fixture = path.join(repoRoot, 'test', 'fixtures', 'streaming');
const SSE = { accept: 'text/event-stream' };

async function metric(s: Served, name: string): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
  assert.ok(line, `${name} is exported`);
  return Number(line.split(' ').at(-1));
}

for (const api of ['streamer', 'streamer-ts']) {
  describe(`cortex serve: streamed answers (${api})`, { concurrency: false }, () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cortex-stream-'));
    const marker = (name: string) => path.join(dir, `${api}-${name}`);
    let s: Served;

    before(async () => {
      // --predict-timeout 1: the deadline is to the first byte, not to the end of a stream
      s = await serve(fixture, { args: ['--api', api, '--predict-timeout', '1', '--grace-period', '10'] });
    });
    after(async () => {
      await s?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    test('text chunks arrive as they are yielded (chunked, text/plain), past the predict timeout', async () => {
      const r = await streamRequest({ url: s.url, payload: { mode: 'text', n: 5, delay: 0.3 } });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(r.headers['transfer-encoding'], 'chunked');
      assert.equal(r.body, 'token 0\ntoken 1\ntoken 2\ntoken 3\ntoken 4\n');
      const arrivals = r.chunks.map((c) => c.at);
      assert.ok(r.chunks.length >= 5, `5 separate chunks, got ${r.chunks.length}`);
      assert.ok(arrivals[0] < 250, `first chunk after ${arrivals[0]} ms, before the second was produced`);
      assert.ok(arrivals.at(-1)! - arrivals[0] >= 1000, `spread over the generator's 1.2 s: ${arrivals.join(', ')}`);
    });

    test('JSON values: Server-Sent Events when the client accepts text/event-stream', async () => {
      const r = await streamRequest({ url: s.url, payload: { mode: 'json', n: 2 }, headers: SSE });
      assert.equal(r.headers['content-type'], 'text/event-stream');
      assert.equal(r.headers['cache-control'], 'no-cache');
      assert.equal(r.body, 'data: {"i":0,"text":"line 0\\nsecond"}\n\ndata: {"i":1,"text":"line 1\\nsecond"}\n\n');
    });

    test('JSON values: newline-delimited JSON otherwise', async () => {
      const r = await streamRequest({ url: s.url, payload: { mode: 'json', n: 3 } });
      assert.equal(r.headers['content-type'], 'application/x-ndjson');
      const lines = r.body.trimEnd().split('\n');
      assert.deepEqual(
        lines.map((l) => JSON.parse(l) as unknown),
        [0, 1, 2].map((i) => ({ i, text: `line ${i}\nsecond` })),
      );
    });

    test('a failure after the first byte: SSE error event, NDJSON error line, an aborted text body', async () => {
      const sse = await streamRequest({ url: s.url, payload: { mode: 'json', n: 1, fail: true }, headers: SSE });
      assert.match(sse.body, /^data: \{"i":0,[^\n]*\n\nevent: error\ndata: \{"error":"[^"]+"\}\n\n$/);
      assert.equal(sse.aborted, false);
      const nd = await streamRequest({ url: s.url, payload: { mode: 'json', n: 1, fail: true } });
      const last = JSON.parse(nd.body.trimEnd().split('\n').at(-1)!) as { error: string };
      assert.match(last.error, /internal server error|ran out of JSON/);
      const text = await streamRequest({ url: s.url, payload: { mode: 'fail_after', n: 2 } });
      assert.equal(text.body, 'token 0\ntoken 1\n');
      assert.equal(text.aborted, true, 'the chunked body ends without its last chunk');
    });

    test('a failure before the first item is an ordinary 500', async () => {
      const r = await streamRequest({ url: s.url, payload: { mode: 'fail_before' } });
      assert.equal(r.status, 500);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.match(r.body, /"error"/);
    });

    test('no first byte within the predict timeout: 504, and the stream is cancelled when it starts', async () => {
      // A worker holding nothing but a timed-out request is replaced (killed); a stream beside it
      // keeps this one alive, so the late stream is seen being cancelled rather than killed.
      const file = marker('late');
      let leave = false;
      const beside = streamRequest({
        url: s.url,
        payload: { mode: 'forever', delay: 0.05, marker: marker('late-beside') },
        leaveWhen: () => leave,
      });
      try {
        const r = await streamRequest({ url: s.url, payload: { mode: 'late', delay: 1.5, marker: file } });
        assert.equal(r.status, 504);
        assert.match(
          await waitFor('the late stream to stop', () =>
            existsSync(file) ? readFileSync(file, 'utf8') || undefined : undefined,
          ),
          /late stream stopped/,
        );
      } finally {
        leave = true;
        await beside;
      }
      await waitFor('in flight to fall to 0', async () =>
        (await metric(s, 'cortex_in_flight_requests')) === 0 ? true : undefined,
      );
      assert.ok(!s.stdout().includes('has been running a predict'), 'the worker was not replaced');
    });

    test('the client leaving stops the generator; the stream counts in flight until then', async () => {
      const file = marker('left');
      const r = await streamRequest({
        url: s.url,
        payload: { mode: 'forever', delay: 0.05, marker: file },
        leaveWhen: (body) => body.includes('tick 3\n'),
      });
      assert.match(r.body, /tick 0\n/);
      const stopped = await waitFor('the generator to stop', () =>
        existsSync(file) ? readFileSync(file, 'utf8') || undefined : undefined,
      );
      // Python: GeneratorExit at the yield; TypeScript: ctx.signal aborted (the sleep it awaited rejects)
      assert.match(stopped, api === 'streamer' ? /^GeneratorExit after \d+$/ : /^aborted=true after \d+$/);
      await waitFor('in flight to fall to 0', async () =>
        (await metric(s, 'cortex_in_flight_requests')) === 0 ? true : undefined,
      );
    });

    test('while a stream runs it is in flight, and other requests are served beside it (threads 4)', async () => {
      const file = marker('beside');
      let leave = false;
      const giveUp = performance.now() + 20_000;
      const streaming = streamRequest({
        url: s.url,
        payload: { mode: 'forever', delay: 0.05, marker: file },
        leaveWhen: () => leave || performance.now() > giveUp,
      });
      try {
        await waitFor('the stream to be in flight', async () =>
          (await metric(s, 'cortex_in_flight_requests')) === 1 ? true : undefined,
        );
        const started = performance.now();
        const plain = await fetch(`${s.url}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"mode":"plain"}',
        });
        assert.deepEqual(await plain.json(), { streamed: false });
        assert.ok(performance.now() - started < 1000, 'not queued behind the stream');
      } finally {
        leave = true;
      }
      await streaming;
      await waitFor('the generator to stop', () => (existsSync(file) ? true : undefined));
    });

    test('a slow client (one byte a second) slows the generator: bounded production, flat front memory', async () => {
      const file = marker('slow');
      const before = await rssBytes(s.proc.pid!);
      // 64 KiB chunks, 2000 of them (128 MiB): unbounded, the generator would finish in well under a second
      await slowClient(s.port, { mode: 'big', n: 2000, size: 65536, marker: file }, 4);
      const made = Number(
        await waitFor('the generator to stop', () =>
          existsSync(file) ? /stopped after (\d+)/.exec(readFileSync(file, 'utf8'))?.[1] : undefined,
        ),
      );
      const grown = (await rssBytes(s.proc.pid!)) - before;
      // what the kernel's socket buffers hold, plus the 64 KiB window: a few MiB, not 128
      assert.ok(made < 200, `the generator produced ${made} chunks of 64 KiB for a client that read 4 bytes`);
      assert.ok(grown < 48 * 1024 * 1024, `the front grew by ${grown} bytes`);
    });

    if (api === 'streamer') {
      test('an async generator: SSE, and the client leaving cancels it at its await', async () => {
        const file = marker('async');
        const r = await streamRequest({
          url: s.url,
          payload: { mode: 'async', delay: 0.05, marker: file },
          headers: SSE,
          leaveWhen: (body) => body.includes('"tick":2'),
        });
        assert.match(r.body, /^data: \{"tick":0\}\n\ndata: \{"tick":1\}\n\n/);
        assert.match(
          await waitFor('the async generator to stop', () =>
            existsSync(file) ? readFileSync(file, 'utf8') || undefined : undefined,
          ),
          /async stopped after \d+/,
        );
      });
    }

    if (api === 'streamer-ts') {
      test('a web ReadableStream streams its chunks as they come', async () => {
        const r = await streamRequest({ url: s.url, payload: { mode: 'readable', n: 3, delay: 0.3 } });
        assert.equal(r.headers['content-type'], 'application/octet-stream');
        assert.equal(r.body, 'chunk 0\nchunk 1\nchunk 2\n');
        assert.ok(r.chunks.at(-1)!.at - r.chunks[0].at >= 500, "spread over the stream's 0.6 s");
      });

      test('a Response with a streaming body streams with its headers; a whole body keeps its length', async () => {
        const r = await streamRequest({ url: s.url, payload: { mode: 'response', n: 3, delay: 0.2 } });
        assert.equal(r.headers['content-type'], 'text/x-tokens');
        assert.equal(r.headers['transfer-encoding'], 'chunked');
        assert.equal(r.body, 'chunk 0\nchunk 1\nchunk 2\n');
        const whole = await streamRequest({ url: s.url, payload: { mode: 'response', n: 1 } });
        assert.equal(whole.body, 'chunk 0\n');
        assert.equal(whole.headers['content-length'], '8');
      });
    }

    test('time-to-first-byte and stream-duration histograms count the streams', async () => {
      const first = await metric(s, 'cortex_stream_first_byte_seconds_count');
      const whole = await metric(s, 'cortex_stream_duration_seconds_count');
      await streamRequest({ url: s.url, payload: { mode: 'text', n: 2 } });
      assert.equal(await metric(s, 'cortex_stream_first_byte_seconds_count'), first + 1);
      assert.equal(await metric(s, 'cortex_stream_duration_seconds_count'), whole + 1);
    });

    test('SIGTERM lets an open stream finish within the grace period', async () => {
      const streaming = streamRequest({ url: s.url, payload: { mode: 'text', n: 6, delay: 0.25 } });
      await new Promise((r) => setTimeout(r, 300));
      s.proc.kill('SIGTERM');
      const r = await streaming;
      assert.equal(r.aborted, false);
      assert.equal(r.body.split('\n').filter(Boolean).length, 6);
      await s.exited;
    });
  });
}
