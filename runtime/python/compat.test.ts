// Old Cortex projects on the Python host (issue 14 §4): multipart files as Starlette UploadFiles,
// cortex_internal.lib.log's logger, and warnings logged at level warning rather than error.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PythonWorker } from '../workers/python.ts';
import type { PredictResult, WorkerOptions } from '../workers/types.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const live: PythonWorker[] = [];
after(async () => {
  await Promise.all(live.map((w) => w.shutdown(1000)));
});

async function start(file: string): Promise<{ worker: PythonWorker; logs: Record<string, unknown>[] }> {
  const options: WorkerOptions = {
    api: 'compat-api',
    projectDir: FIXTURES,
    predictorPath: join(FIXTURES, file),
    config: {},
    pythonPath: [],
    env: {},
    threads: 1,
    batching: false,
    index: 0,
    logLevel: 'info',
  };
  const worker = new PythonWorker(options, { stdio: 'pipe' });
  live.push(worker);
  const started = worker.start();
  const logs: Record<string, unknown>[] = [];
  for (const stream of [worker.stdout!, worker.stderr!]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (text: string) => {
      const lines = (rest + text).split('\n');
      rest = lines.pop()!;
      for (const line of lines) logs.push(JSON.parse(line));
    });
  }
  await started;
  return { worker, logs };
}

let nextId = 1;
function ask(worker: PythonWorker, body: Buffer | string, contentType: string, rid?: string): Promise<PredictResult> {
  return new Promise((resolve) =>
    worker.send({
      id: nextId++,
      clientRequestId: rid,
      body: Buffer.isBuffer(body) ? body : Buffer.from(body),
      contentType,
      query: '',
      rawHeaders: [],
      done: resolve,
    }),
  );
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the predictors' JSON answers, read field by field
const json = (result: PredictResult): any => JSON.parse(result.body.toString('utf8'));

test('multipart file parts are UploadFiles (Cortex: payload["file"].file.read()), fields stay str', async () => {
  const { worker } = await start('upload.py');
  const boundary = '----cortexCompat';
  const file = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 13) % 256));
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue\r\n`),
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="model.bin"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    ),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const result = await ask(worker, body, `multipart/form-data; boundary=${boundary}`);
  assert.equal(result.status, 200, result.body.toString());
  assert.deepEqual(json(result), {
    filename: 'model.bin',
    content_type: 'application/octet-stream',
    header: 'application/octet-stream',
    size: 300,
    hex: file.toString('hex'),
    read_again: true,
    field: 'value',
    field_type: 'str',
  });
});
