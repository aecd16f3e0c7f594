// PythonWorker + cortex_host.py in a BatchAPI's batch mode (runtime/python/cortex_batch.py): every
// REQUEST is a batch (meta rid: the batch id), meta m COMPLETE runs on_job_complete.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PythonWorker } from './python.ts';
import { fixtureOptions, spawnLoggingWorker, stopWorkers } from './python-testing.ts';
import { InitError, type PredictResult } from './types.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const live: PythonWorker[] = [];
after(() => stopWorkers(live));
let nextId = 1;

const batchOptions = (file: string) =>
  fixtureOptions(FIXTURES, file, { config: { scale: 10 }, batchJob: { job_id: 'j1', workers: 1 } });

function send(worker: PythonWorker, body: unknown, batchId: string, method?: string): Promise<PredictResult> {
  return new Promise((resolve) =>
    worker.send({
      id: nextId++,
      clientRequestId: batchId,
      body: Buffer.from(body === undefined ? '' : JSON.stringify(body)),
      contentType: 'application/json',
      query: '',
      rawHeaders: [],
      done: resolve,
      ...(method ? { method } : {}),
    }),
  );
}

test("Cortex 0.25's PythonPredictor: predict(payload, batch_id) per batch, job_spec, on_job_complete", async () => {
  const { worker, logs, started } = spawnLoggingWorker(batchOptions('batch_predictor_025.py'), live);
  await started;
  const a = await send(worker, [1, 2, 3], '17-0');
  assert.equal(a.status, 200);
  assert.deepEqual(JSON.parse(a.body.toString()), { batch: '17-0', sum: 60, job: 'j1' });
  const failed = await send(worker, [1, 'boom'], '17-1');
  assert.equal(failed.status, 500, 'a batch that raises fails (the runtime retries it)');
  const done = await send(worker, undefined, 'on_job_complete', 'COMPLETE');
  assert.deepEqual(JSON.parse(done.body.toString()), { seen: 3 });
  const error = logs.find((l) => String(l.message).includes('boom in batch 17-1'));
  assert.ok(error, 'the traceback is logged');
  assert.equal(error.request_id, '17-1', 'log lines carry the batch id');
});

test('a BatchAPI class without handle_batch fails to start, saying what to define', async () => {
  const { started } = spawnLoggingWorker(batchOptions('batch_no_method.py'), live);
  await assert.rejects(started, (e: unknown) => {
    assert.ok(e instanceof InitError);
    assert.match(e.message, /Handler in .* has no handle_batch\(self, payload, batch_id\) method/);
    return true;
  });
});
