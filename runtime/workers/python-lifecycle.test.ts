// PythonWorker + runtime/python/cortex_host.py through a worker's life, with real Python
// processes and the fixture predictors in ./fixtures: post_predict, init failures, concurrency,
// batching and exits. What one request becomes: python.test.ts.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PythonWorker } from './python.ts';
import { ask, askBatch, fixtureWorkers, json, makeJob, sleep, stopWorkers, waitFor } from './python-testing.ts';
import { InitError, type PredictResult, type WorkerExit, type WorkerOptions } from './types.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const TMP = mkdtempSync(join(tmpdir(), 'cortex-python-worker-'));
const live: PythonWorker[] = [];
after(() => stopWorkers(live));
const { spawnWorker, startWorker } = fixtureWorkers(FIXTURES, live);

describe('post_predict', () => {
  test('runs after the response was sent, with the declared params; its errors are only logged', async () => {
    const logFile = join(TMP, 'post.jsonl');
    const { worker, logs } = await startWorker('post.py', { config: { log_file: logFile, post_sleep: 1 } });
    assert.deepEqual(worker.ready, { params: ['payload'], postPredict: true, pid: worker.pid });
    const t0 = Date.now();
    const result = await ask(worker, { body: '{"x": 21}' });
    assert.ok(Date.now() - t0 < 800, 'the response did not wait for post_predict');
    assert.deepEqual(json(result), { doubled: 42 });
    assert.equal(existsSync(logFile), false);
    const written = await waitFor(() => existsSync(logFile) && readFileSync(logFile, 'utf8'), 'post_predict to write');
    assert.deepEqual(JSON.parse(written), { response: { doubled: 42 }, payload: { x: 21 } });

    const failing = await ask(worker, { body: '{"x": 1, "fail": true}', rid: 'post-fail' });
    assert.equal(failing.status, 200);
    const line = await waitFor(() => logs.find((l) => l.request_id === 'post-fail'), 'the post_predict error line');
    assert.equal(line.level, 'error');
    assert.match(String(line.message), /post_predict failed on purpose/);
    assert.equal((await ask(worker, { body: '{"x": 2}' })).status, 200);
  });

  test('threaded: post_predict also waits for the response to be written', async () => {
    const logFile = join(TMP, 'post-threads.jsonl');
    const { worker } = await startWorker('post.py', { threads: 3, config: { log_file: logFile } });
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((x) => ask(worker, { body: JSON.stringify({ x }) })));
    assert.deepEqual(
      results.map((r) => json(r).doubled),
      [2, 4, 6, 8, 10, 12],
    );
    const text = await waitFor(
      () =>
        existsSync(logFile) && readFileSync(logFile, 'utf8').split('\n').length === 7 && readFileSync(logFile, 'utf8'),
      'six post_predict lines',
    );
    assert.deepEqual(
      text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).payload.x)
        .sort(),
      [1, 2, 3, 4, 5, 6],
    );
  });
});

describe('init failures', () => {
  async function failure(
    file: string,
    over: Partial<WorkerOptions> = {},
  ): Promise<{ err: InitError; exit: WorkerExit }> {
    const { worker, started } = spawnWorker(file, over);
    const exited = new Promise<WorkerExit>((resolve) => worker.onExit(resolve));
    const err = await started.then(
      () => assert.fail('start() resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof InitError);
    return { err, exit: await exited };
  }

  test('__init__ raises → start() rejects with the last traceback line', async () => {
    const { err, exit } = await failure('init_fail.py', { config: { model: 'm.bin' } });
    assert.equal(err.message, 'ValueError: model file missing: m.bin');
    assert.match(err.detail, /^Traceback[\s\S]*init_fail\.py[\s\S]*ValueError: model file missing: m\.bin$/);
    assert.equal(exit.code, 1);
    assert.equal(exit.initError, err);
  });

  test('missing class, missing file, bad signature → clear messages', async () => {
    const noClass = await failure('no_class.py');
    assert.equal(
      noClass.err.message,
      `${join(FIXTURES, 'no_class.py')} does not define a class named PythonPredictor ` +
        "(or Handler, Cortex 0.34-0.35's interface)",
    );
    const missing = await failure('does_not_exist.py');
    assert.equal(missing.err.message, `predictor file not found: ${join(FIXTURES, 'does_not_exist.py')}`);
    const badParam = await failure('bad_param.py');
    assert.match(badParam.err.message, /predict has an unsupported parameter 'model'/);
  });

  test('no interpreter → start() rejects', async () => {
    const { err, exit } = await failure('echo.py', { python: join(TMP, 'no-such-python') });
    assert.match(err.message, /could not start .*no-such-python/);
    assert.equal(exit.initError, err);
  });

  test('the process dies before READY → start() rejects with the exit code', async () => {
    const { err } = await failure('echo.py', { python: 'false' });
    assert.equal(err.message, 'worker exited before it was ready (code 1)');
  });
});

describe('concurrency', () => {
  test('threads=4 runs 4 slow predicts at once', async () => {
    const { worker } = await startWorker('slow.py', { threads: 4, config: { sleep: 0.3 } });
    const t0 = Date.now();
    const results = await Promise.all([1, 2, 3, 4].map((i) => ask(worker, { body: String(i) })));
    const wall = Date.now() - t0;
    assert.ok(wall < 550, `4 × 300 ms took ${wall} ms`);
    assert.deepEqual(
      results.map((r) => json(r).echo),
      [1, 2, 3, 4],
    );
    assert.equal(new Set(results.map((r) => json(r).thread)).size, 4);
  });

  test('threads=1 runs them one after the other, and each answer leaves as soon as it is ready', async () => {
    const { worker } = await startWorker('slow.py', { config: { sleep: 0.15 } });
    const t0 = Date.now();
    const arrivals: number[] = [];
    await Promise.all(
      [1, 2, 3].map((i) => ask(worker, { body: String(i) }).then(() => arrivals.push(Date.now() - t0))),
    );
    assert.ok(arrivals[2] >= 440, `${arrivals}`);
    assert.ok(arrivals[0] < 290, `the first answer waited for the others: ${arrivals}`);
    assert.ok(arrivals[1] < 440, `the second answer waited for the third: ${arrivals}`);
  });

  test('threads=4: log lines carry the request id of their own thread', async () => {
    const { worker, logs } = await startWorker('returns.py', { threads: 4 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => ask(worker, { query: `kind=print&n=${i}`, rid: `r-${i}` })));
    for (let i = 0; i < 40; i++) {
      const line = await waitFor(() => logs.find((l) => l.message === `hello from predict ${i}`), `print line ${i}`);
      assert.equal(line.request_id, `r-${i}`);
    }
  });

  for (const threads of [1, 4]) {
    test(`5000 pipelined requests all answered, ids matched (threads=${threads})`, async () => {
      const { worker } = await startWorker('identity.py', { threads });
      const n = 5000;
      const promises: Promise<PredictResult>[] = [];
      const expected: string[] = [];
      for (let i = 0; i < n; i++) {
        if (i % 10 === 3) {
          expected.push(`text ${i}`);
          promises.push(ask(worker, { body: `text ${i}`, contentType: 'text/plain' }));
        } else {
          const body = JSON.stringify({ i, pad: 'x'.repeat(i % 97) });
          expected.push(body);
          promises.push(ask(worker, { body }));
        }
      }
      assert.equal(worker.inFlight, n);
      const results = await Promise.all(promises);
      for (let i = 0; i < n; i++) {
        assert.equal(results[i].status, 200);
        assert.equal(results[i].body.toString(), expected[i]);
      }
      assert.equal(worker.inFlight, 0);
    });
  }
});

describe('batching', () => {
  let worker: PythonWorker;

  test('start', async () => {
    ({ worker } = await startWorker('batch.py', { batching: true }));
  });

  test('a list in, a list out', async () => {
    const results = await Promise.all(
      askBatch(worker, [{ body: '1' }, { body: '"two"' }, { body: 'three', contentType: 'text/plain' }]),
    );
    assert.deepEqual(
      results.map((r) => [r.status, json(r).item, json(r).batch_size]),
      [
        [200, 1, 3],
        [200, 'two', 3],
        [200, 'three', 3],
      ],
    );
    assert.equal(new Set(results.map((r) => json(r).call)).size, 1, 'one predict call');
    const single = await ask(worker, { body: '5' });
    assert.deepEqual(json(single).item, 5);
    assert.equal(json(single).batch_size, 1);
  });

  test('wrong length → every item 500', async () => {
    const results = await Promise.all(
      askBatch(worker, [{ body: '1' }, { body: '"short"' }, { body: '3' }, { body: '4' }]),
    );
    for (const r of results) {
      assert.equal(r.status, 500);
      assert.deepEqual(json(r), { error: 'predict returned 3 results for a batch of 4' });
    }
  });

  test('an exception → every item 500', async () => {
    const results = await Promise.all(askBatch(worker, [{ body: '1' }, { body: '"boom"' }]));
    for (const r of results) {
      assert.equal(r.status, 500);
      assert.deepEqual(json(r), { error: "internal server error (the exception is in the API's logs)" });
    }
  });

  test('query_params and headers are lists too, one entry per request (Cortex 0.30 docs)', async () => {
    const { worker: all } = await startWorker('batch_params.py', { batching: true });
    assert.deepEqual(all.ready?.params, ['query_params', 'payload', 'headers']);
    const results = await Promise.all(
      askBatch(all, [
        { body: '1', query: 'model=a', headers: [['X-Client', 'one']] },
        { body: '2', headers: [['x-client', 'two']] },
        { body: '3', query: 'model=c' },
      ]),
    );
    assert.deepEqual(
      results.map((r) => json(r)),
      [
        { payload: 1, model: 'a', client: 'one', batch_size: 3 },
        { payload: 2, model: null, client: 'two', batch_size: 3 },
        { payload: 3, model: 'c', client: null, batch_size: 3 },
      ],
    );
  });

  test('a bad item → 400 on its own, the others are predicted', async () => {
    const results = await Promise.all(askBatch(worker, [{ body: '1' }, { body: '{bad' }, { body: '3' }]));
    assert.equal(results[1].status, 400);
    assert.match(json(results[1]).error, /^invalid JSON: /);
    assert.deepEqual([results[0].status, json(results[0]).item, json(results[0]).batch_size], [200, 1, 2]);
    assert.deepEqual([results[2].status, json(results[2]).item, json(results[2]).batch_size], [200, 3, 2]);
  });
});

describe('worker exit', () => {
  test('SIGKILL mid-request → in-flight jobs answered 503, then onExit', async () => {
    const { worker } = await startWorker('slow.py', { config: { sleep: 10 } });
    const order: string[] = [];
    const exited = new Promise<WorkerExit>((resolve) =>
      worker.onExit((exit) => {
        order.push('exit');
        resolve(exit);
      }),
    );
    const answers = [1, 2, 3].map(
      (i) =>
        new Promise<PredictResult>((resolve) =>
          worker.send(makeJob({ body: String(i) }, (r) => (order.push('job'), resolve(r)))),
        ),
    );
    await sleep(150);
    assert.equal(worker.inFlight, 3);
    process.kill(worker.pid!, 'SIGKILL');
    const results = await Promise.all(answers);
    for (const r of results) {
      assert.equal(r.status, 503);
      assert.deepEqual(json(r), { error: 'worker exited (signal SIGKILL)' });
    }
    const exit = await exited;
    assert.equal(exit.signal, 'SIGKILL');
    assert.equal(exit.initError, undefined);
    assert.deepEqual(order, ['job', 'job', 'job', 'exit']);
    assert.equal(worker.inFlight, 0);
    const late = await ask(worker, { body: '1' });
    assert.equal(late.status, 503);
  });

  test('shutdown lets in-flight jobs finish, then the worker exits 0', async () => {
    const { worker } = await startWorker('slow.py', { threads: 2, config: { sleep: 0.2 } });
    const exited = new Promise<WorkerExit>((resolve) => worker.onExit(resolve));
    const answers = [1, 2, 3].map((i) => ask(worker, { body: String(i) }));
    await worker.shutdown(5000);
    assert.deepEqual(
      (await Promise.all(answers)).map((r) => r.status),
      [200, 200, 200],
    );
    assert.equal((await exited).code, 0);
    assert.equal((await ask(worker, { body: '1' })).status, 503);
  });

  test('shutdown kills the worker after the grace period', async () => {
    const { worker } = await startWorker('slow.py', { config: { sleep: 10 } });
    const answer = ask(worker, { body: '1' });
    const t0 = Date.now();
    await worker.shutdown(200);
    assert.ok(Date.now() - t0 < 2000);
    assert.deepEqual(json(await answer), { error: 'worker exited (signal SIGKILL)' });
  });
});
