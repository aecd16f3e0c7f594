// Old Cortex projects on the Python host (issue 14 §4): multipart files as Starlette UploadFiles,
// Cortex's loggers (cortex_internal.lib.log, cortex.lib.log), and warnings and library records
// logged at their own level rather than error.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PythonWorker } from '../workers/python.ts';
import { fixtureOptions, spawnLoggingWorker, stopWorkers } from '../workers/python-testing.ts';
import type { PredictResult } from '../workers/types.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const live: PythonWorker[] = [];
after(() => stopWorkers(live));

async function start(file: string): Promise<{ worker: PythonWorker; logs: Record<string, unknown>[] }> {
  const options = fixtureOptions(FIXTURES, file, { api: 'compat-api', index: 0 });
  const { worker, logs, started } = spawnLoggingWorker(options, live);
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

async function waitFor<T>(check: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const found = check();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

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

test("Cortex's loggers log with the request id; warnings and a library's stderr handler keep their level", async () => {
  const { worker, logs } = await start('cortex_log.py');
  const result = await ask(worker, '[1,2,3]', 'application/json', 'req-7');
  assert.equal(result.status, 200, result.body.toString());
  const line = (message: string) =>
    waitFor(() => logs.find((l) => typeof l.message === 'string' && l.message.includes(message)), message);
  const received = await line('received payload');
  assert.equal(received.level, 'info');
  assert.equal(received.request_id, 'req-7');
  assert.equal(received.api, 'compat-api');
  assert.equal(received.size, 3);
  assert.equal((await line('legacy get_logger')).level, 'info');
  assert.equal((await line('legacy cx_logger()')).level, 'info');
  const imported = await line('old_api is deprecated');
  assert.equal(imported.level, 'warning');
  assert.match(imported.message as string, /FutureWarning/);
  const atPredict = await line('predict-time warning');
  assert.equal(atPredict.level, 'warning');
  assert.equal(atPredict.request_id, 'req-7');
  assert.equal((await line('library warning')).level, 'warning');
  assert.equal(
    logs.find((l) => String(l.message).includes('below log_level')),
    undefined,
    'debug records stay filtered by log_level',
  );
  assert.deepEqual(
    logs.filter((l) => l.level === 'error'),
    [],
  );
});
