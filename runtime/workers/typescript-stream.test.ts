// TypeScriptWorker streams seen from the front (runtime/workers/typescript-thread-stream.ts):
// the credit window holds the producer, a cancel aborts ctx.signal, batching refuses streams.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assertCreditWindow } from './stream-testing.ts';
import { type PredictResult, type WorkerOptions } from './types.ts';
import { TypeScriptWorker } from './typescript.ts';

const STREAMING = fileURLToPath(new URL('../../test/fixtures/streaming/', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures-ts/', import.meta.url));
const TMP = mkdtempSync(join(tmpdir(), 'cortex-ts-stream-'));
const live: TypeScriptWorker[] = [];
let nextId = 1;

after(() => Promise.all(live.map((w) => w.shutdown(500))));

async function start(path: string, over: Partial<WorkerOptions> = {}): Promise<TypeScriptWorker> {
  const worker = new TypeScriptWorker({
    api: 'test-api',
    projectDir: STREAMING,
    predictorPath: path,
    config: {},
    pythonPath: [],
    env: {},
    threads: 2,
    batching: false,
    index: 0,
    logLevel: 'info',
    ...over,
  });
  live.push(worker);
  await worker.start();
  return worker;
}

function ask(worker: TypeScriptWorker, body: unknown, batch = false): Promise<PredictResult> {
  return new Promise((resolve) => {
    const job = {
      id: nextId++,
      body: Buffer.from(JSON.stringify(body)),
      contentType: 'application/json',
      query: '',
      rawHeaders: [],
      done: resolve,
    };
    if (batch) worker.sendBatch([job]);
    else worker.send(job);
  });
}

test('without credit the thread sends one window (64 KiB) and waits; credit resumes it; cancel stops it', async () => {
  const worker = await start(join(STREAMING, 'streamer.ts'));
  const marker = join(TMP, 'window');
  const result = await ask(worker, { mode: 'big', n: 1000, size: 4096, marker });
  await assertCreditWindow(result, marker, worker, 400);
});

test('with server_side_batching a stream per item is refused with a 500 that says why', async () => {
  const worker = await start(join(FIXTURES, 'stream-batch.ts'), { batching: true });
  const result = await ask(worker, 'a', true);
  assert.equal(result.status, 500);
  assert.match(result.body.toString(), /streaming is not supported with server_side_batching/);
});
