// PythonWorker + cortex_host.py streaming (runtime/python/cortex_stream.py): what the frames carry
// for a Handler's streamed handle_post and its callback, a StreamingResponse-like object,
// post_predict after a stream, a stream refused under batching, and the credit window seen from
// the front: without CREDIT the worker stops after one window.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PythonWorker } from './python.ts';
import { fixtureOptions, stopWorkers } from './python-testing.ts';
import { assertCreditWindow, waitForFile } from './stream-testing.ts';
import { BodyKind, type PredictResult, type StreamError, type WorkerOptions } from './types.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const STREAMING = fileURLToPath(new URL('../../test/fixtures/streaming/', import.meta.url));
const TMP = mkdtempSync(join(tmpdir(), 'cortex-stream-worker-'));
const live: PythonWorker[] = [];
let nextId = 1;

after(() => stopWorkers(live));

async function start(dir: string, file: string, over: Partial<WorkerOptions> = {}): Promise<PythonWorker> {
  const worker = new PythonWorker(fixtureOptions(dir, file, { env: { HANDLER_TMP: TMP }, ...over }), { stdio: 'pipe' });
  live.push(worker);
  const started = worker.start();
  worker.stdout?.resume();
  worker.stderr?.resume();
  await started;
  return worker;
}

function ask(worker: PythonWorker, body: unknown, method?: string): Promise<PredictResult> {
  return new Promise((resolve) =>
    worker.send({
      id: nextId++,
      body: Buffer.from(body === undefined ? '' : JSON.stringify(body)),
      contentType: 'application/json',
      query: '',
      rawHeaders: [],
      method,
      done: resolve,
    }),
  );
}

/** Reads a streamed result to its end, crediting every chunk at once (a fast client). */
function collect(result: PredictResult): Promise<{ body: string; error: StreamError | undefined }> {
  assert.ok(result.stream, `a stream (got status ${result.status}: ${result.body.toString()})`);
  const stream = result.stream;
  let body = '';
  return new Promise((resolve) =>
    stream.pipe({
      chunk(data) {
        body += data.toString('utf8');
        stream.credit(data.length);
      },
      end(error) {
        resolve({ body, error });
      },
    }),
  );
}

/** The file's text once it has some: the fixture opens it (creating it empty) before it writes. */
test("a Handler's handle_post streams; its callback runs after the stream ended", async () => {
  const worker = await start(FIXTURES, 'stream_handler.py');
  const result = await ask(worker, { n: 4 });
  assert.equal(result.kind, BodyKind.Text);
  const { body, error } = await collect(result);
  assert.equal(body, 't0 t1 t2 t3 ');
  assert.equal(error, undefined);
  assert.equal(await waitForFile(join(TMP, 'stream-callback')), 'after 4 tokens');
  assert.equal(worker.inFlight, 0);
});

test('a StreamingResponse-like object: its status and headers (not content-length), its body streamed', async () => {
  const worker = await start(FIXTURES, 'stream_handler.py');
  const result = await ask(worker, undefined, 'GET');
  assert.equal(result.status, 206);
  assert.equal(result.kind, BodyKind.Custom);
  assert.deepEqual(result.headers, [['content-type', 'text/x-parts']]);
  assert.equal((await collect(result)).body, 'part one;part two');
  assert.equal(await waitForFile(join(TMP, 'stream-get-callback')), 'after the async stream');
});

test('post_predict runs once the stream ended, with the generator as its response', async () => {
  const worker = await start(FIXTURES, 'stream_post.py');
  const result = await ask(worker, {});
  assert.equal(result.kind, BodyKind.Ndjson);
  assert.equal((await collect(result)).body, '{"i":0}\n{"i":1}\n{"i":2}\n');
  assert.equal(await waitForFile(join(TMP, 'stream-post')), 'produced 3; response is a generator');
});

test('with server_side_batching a generator per item is refused with a 500 that says why', async () => {
  const worker = await start(FIXTURES, 'stream_batch.py', { batching: true });
  const result = await ask(worker, 'a');
  assert.equal(result.status, 500);
  assert.match(result.body.toString(), /streaming is not supported with server_side_batching/);
});

test('without CREDIT the worker sends one window (64 KiB) and waits; credit resumes it; CANCEL ends it', async () => {
  const worker = await start(STREAMING, 'streamer.py', { threads: 2 });
  const marker = join(TMP, 'window');
  const result = await ask(worker, { mode: 'big', n: 1000, size: 4096, marker });
  await assertCreditWindow(result, marker, worker, 500);
});
