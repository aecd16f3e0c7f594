// PythonWorker + runtime/python/cortex_host.py, with real Python processes and the fixture
// predictors in ./fixtures.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FrameReader, requestHead } from './frames.ts';
import { PythonWorker } from './python.ts';
import { fixtureOptions, spawnLoggingWorker, stopWorkers, type LoggingWorker } from './python-testing.ts';
import {
  BodyKind,
  InitError,
  type PredictJob,
  type PredictResult,
  type WorkerExit,
  type WorkerOptions,
} from './types.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const TMP = mkdtempSync(join(tmpdir(), 'cortex-python-worker-'));
const live: PythonWorker[] = [];
let nextId = 1;

after(() => stopWorkers(live));

const options = (file: string, over: Partial<WorkerOptions> = {}) => fixtureOptions(FIXTURES, file, over);

function spawnWorker(file: string, over: Partial<WorkerOptions> = {}): LoggingWorker {
  return spawnLoggingWorker(options(file, over), live);
}

async function startWorker(file: string, over: Partial<WorkerOptions> = {}): Promise<Omit<LoggingWorker, 'started'>> {
  const { worker, logs, started } = spawnWorker(file, over);
  await started;
  return { worker, logs };
}

interface Req {
  body?: string | Buffer;
  contentType?: string | undefined;
  query?: string;
  headers?: [string, string][];
  rid?: string;
}

function makeJob(r: Req, done: (result: PredictResult) => void): PredictJob {
  let calls = 0;
  return {
    id: nextId++,
    clientRequestId: r.rid,
    body: Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body ?? ''),
    contentType: 'contentType' in r ? r.contentType : 'application/json',
    query: r.query ?? '',
    rawHeaders: (r.headers ?? []).flat(),
    done(result) {
      calls++;
      assert.equal(calls, 1, 'done called more than once');
      done(result);
    },
  };
}

function ask(worker: PythonWorker, r: Req): Promise<PredictResult> {
  return new Promise((resolve) => worker.send(makeJob(r, resolve)));
}

function askBatch(worker: PythonWorker, reqs: Req[]): Promise<PredictResult>[] {
  const promises: Promise<PredictResult>[] = [];
  const jobs = reqs.map((r) => {
    let resolve!: (result: PredictResult) => void;
    promises.push(new Promise((res) => (resolve = res)));
    return makeJob(r, (result) => resolve(result));
  });
  worker.sendBatch(jobs);
  return promises;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the predictors' JSON answers, read field by field
const json = (result: PredictResult): any => JSON.parse(result.body.toString('utf8'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(check: () => T | undefined | false, what: string, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('frames', () => {
  test('FrameReader reassembles frames however the bytes are split', () => {
    const frames = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(70000, 7), Buffer.from('xyz')].map((payload, i) => {
      const head = Buffer.alloc(5);
      head.writeUInt32LE(1 + payload.length, 0);
      head[4] = i + 1;
      return Buffer.concat([head, payload]);
    });
    const stream = Buffer.concat(frames);
    for (const size of [1, 3, 5, 4096, 65536, stream.length]) {
      const seen: [number, string][] = [];
      const reader = new FrameReader((type, buf, start, end) => seen.push([type, buf.toString('hex', start, end)]));
      for (let i = 0; i < stream.length; i += size) reader.push(stream.subarray(i, i + size));
      assert.deepEqual(
        seen,
        frames.map((f) => [f[4], f.toString('hex', 5)]),
        `chunks of ${size}`,
      );
    }
  });

  test('requestHead lays out length, type, id and metaLen', () => {
    assert.equal(requestHead(0x01020304, 2, 10).toString('hex'), '13000000' + '01' + '04030201' + '0200');
  });
});

describe('payload decoding', () => {
  let worker: PythonWorker;
  const echo = async (r: Req) => {
    const result = await ask(worker, r);
    assert.equal(result.status, 200, result.body.toString());
    assert.equal(result.kind, BodyKind.Json);
    return json(result);
  };

  test('starts and reports the declared params', async () => {
    ({ worker } = await startWorker('echo.py'));
    assert.deepEqual(worker.ready?.params, ['payload']);
    assert.equal(worker.ready?.postPredict, false);
    assert.equal(worker.ready?.pid, worker.pid);
  });

  test('application/json → parsed object', async () => {
    assert.deepEqual(await echo({ body: '{"text": "hi", "n": [1, 2]}' }), {
      type: 'dict',
      value: { text: 'hi', n: [1, 2] },
    });
    assert.deepEqual(await echo({ body: '"a string"' }), { type: 'str', value: 'a string' });
    assert.deepEqual(await echo({ body: '[1]', contentType: 'application/json; charset=utf-8' }), {
      type: 'list',
      value: [1],
    });
  });

  test('invalid JSON → 400 with the parser message', async () => {
    const result = await ask(worker, { body: 'nope' });
    assert.equal(result.status, 400);
    assert.equal(result.kind, BodyKind.Json);
    assert.equal(result.body.toString(), '{"error": "invalid JSON: Expecting value: line 1 column 1 (char 0)"}');
    const empty = await ask(worker, { body: '', contentType: 'application/json; charset=utf-8' });
    assert.equal(empty.status, 400);
    assert.match(json(empty).error, /^invalid JSON: /);
  });

  test('text/plain → str, charset from the header', async () => {
    assert.deepEqual(await echo({ body: 'héllo', contentType: 'text/plain' }), { type: 'str', value: 'héllo' });
    assert.deepEqual(
      await echo({ body: Buffer.from('café', 'latin1'), contentType: 'text/plain; charset=ISO-8859-1' }),
      {
        type: 'str',
        value: 'café',
      },
    );
    const bad = await ask(worker, { body: Buffer.from([0xff, 0xfe, 0x41]), contentType: 'text/plain; charset=utf-8' });
    assert.equal(bad.status, 400);
    assert.match(json(bad).error, /could not be decoded as utf-8/);
  });

  test('application/x-www-form-urlencoded → dict, last value wins', async () => {
    assert.deepEqual(
      await echo({ body: 'a=1&b=x+y%21&a=2&empty=', contentType: 'application/x-www-form-urlencoded' }),
      {
        type: 'dict',
        value: { a: '2', b: 'x y!', empty: '' },
      },
    );
  });

  test('multipart/form-data → dict, fields as str and files as UploadFiles', async () => {
    const boundary = '----cortexBoundary1234';
    // every byte value, CR and LF included
    const file = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7) % 256));
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue ü\r\n`),
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="upload"; filename="x.bin"\r\n` +
          'Content-Type: application/octet-stream\r\n\r\n',
      ),
      file,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    assert.deepEqual(await echo({ body, contentType: `multipart/form-data; boundary=${boundary}` }), {
      type: 'dict',
      value: { field: 'value ü', upload: { filename: 'x.bin', bytes_hex: file.toString('hex') } },
    });
    const bad = await ask(worker, { body: 'whatever', contentType: 'multipart/form-data' });
    assert.equal(bad.status, 400);
    assert.match(json(bad).error, /invalid multipart form/);
  });

  test('ids beyond u32 still find their job', async () => {
    const result = await new Promise<PredictResult>((resolve) =>
      worker.send({ ...makeJob({ body: '1' }, resolve), id: 2 ** 32 + 5 }),
    );
    assert.deepEqual(json(result), { type: 'int', value: 1 });
  });

  test('anything else → bytes', async () => {
    const raw = Buffer.from([0, 1, 2, 250, 255]);
    for (const contentType of ['application/octet-stream', 'image/png', undefined]) {
      assert.deepEqual(await echo({ body: raw, contentType }), { type: 'bytes', value: { bytes_hex: '000102faff' } });
    }
  });

  test('large bodies cross the pipes in both directions', async () => {
    const { worker: identity } = await startWorker('identity.py');
    const big = Buffer.alloc(5 * 1024 * 1024 + 3);
    for (let i = 0; i < big.length; i += 4093) big[i] = i % 251;
    const results = await Promise.all([
      ask(identity, { body: big, contentType: 'application/octet-stream' }),
      ask(identity, { body: '{"small": true}' }),
      ask(identity, { body: big, contentType: 'application/octet-stream' }),
    ]);
    assert.equal(results[0].kind, BodyKind.Bytes);
    assert.ok(results[0].body.equals(big));
    assert.deepEqual(json(results[1]), { small: true });
    assert.ok(results[2].body.equals(big));
    await identity.shutdown(2000);
  });
});

describe('parameters', () => {
  test('only declared params, in any order; query_params and headers', async () => {
    const { worker } = await startWorker('params.py');
    assert.deepEqual(worker.ready?.params, ['headers', 'query_params', 'payload']);
    const result = await ask(worker, {
      body: '{"x": 1}',
      query: 'model=sentiment&a=1&a=2&blank=&sp=a%20b',
      headers: [
        ['Host', 'localhost'],
        ['Content-Type', 'application/json'],
        ['X-Custom', 'first'],
        ['x-custom', 'second'],
      ],
    });
    assert.equal(result.status, 200);
    assert.deepEqual(json(result), {
      payload: { x: 1 },
      query_params: { model: 'sentiment', a: '2', blank: '', sp: 'a b' },
      headers: { host: 'localhost', 'content-type': 'application/json', 'x-custom': 'first' },
    });
    const bare = await ask(worker, { body: '{}' });
    assert.deepEqual(json(bare), { payload: {}, query_params: {}, headers: {} });
  });

  test("headers are looked up in any case, as Starlette's Headers that Cortex passed", async () => {
    const { worker } = await startWorker('headers_case.py');
    const result = await ask(worker, {
      body: '{}',
      headers: [
        ['Content-Type', 'application/json'],
        ['X-Custom', 'first'],
      ],
    });
    assert.deepEqual(json(result), { item: 'first', get: 'application/json', in: true, missing: 'default' });
  });

  test('the body is not decoded when payload is not declared', async () => {
    const { worker } = await startWorker('query_only.py');
    assert.deepEqual(worker.ready?.params, ['query_params']);
    const result = await ask(worker, { body: 'not json at all', query: 'model=x' });
    assert.equal(result.status, 200);
    assert.deepEqual(json(result), { query_params: { model: 'x' } });
  });

  test('config reaches __init__; python_path, env and the working directory', async () => {
    const { worker } = await startWorker('config_env.py', {
      config: { model: 's3://bucket/model.bin', n: 3, nested: { ok: true } },
      pythonPath: [join(FIXTURES, 'lib')],
      env: { FIXTURE_VAR: 'from env' },
    });
    assert.deepEqual(worker.ready?.params, []);
    const result = await ask(worker, { body: 'ignored', contentType: 'text/plain' });
    assert.deepEqual(json(result), {
      config: { model: 's3://bucket/model.bin', n: 3, nested: { ok: true } },
      env: 'from env',
      helper: 'from python_path',
      cwd: FIXTURES.replace(/\/$/, ''),
    });
  });
});

describe('return values', () => {
  let worker: PythonWorker;
  let logs: Record<string, unknown>[];
  const kind = (k: string, rid?: string) => ask(worker, { query: `kind=${k}`, rid });

  test('start', async () => {
    ({ worker, logs } = await startWorker('returns.py'));
  });

  test('bytes → kind Bytes', async () => {
    const result = await kind('bytes');
    assert.equal(result.status, 200);
    assert.equal(result.kind, BodyKind.Bytes);
    assert.ok(result.body.equals(Buffer.from('\x00\x01\xffraw', 'latin1')));
  });

  test('str → kind Text (UTF-8)', async () => {
    const result = await kind('str');
    assert.equal(result.kind, BodyKind.Text);
    assert.equal(result.body.toString('utf8'), 'héllo');
  });

  test('anything else → compact JSON', async () => {
    const dict = await kind('dict');
    assert.equal(dict.kind, BodyKind.Json);
    assert.equal(dict.body.toString(), '{"a":[1,2.5,null,true],"b":"\\u00fc"}');
    assert.equal((await kind('list')).body.toString(), '[1,2,3]');
    assert.equal((await kind('none')).body.toString(), 'null');
  });

  test('a Response object → its status, headers and body', async () => {
    const result = await kind('response');
    assert.equal(result.status, 400);
    assert.equal(result.kind, BodyKind.Custom);
    assert.deepEqual(result.headers, [
      ['content-type', 'application/json'],
      ['x-model', 'none'],
    ]);
    assert.deepEqual(json(result), { error: 'unknown model: x' });
    const mapping = await kind('headers_response');
    assert.equal(mapping.status, 201);
    assert.equal(mapping.kind, BodyKind.Custom);
    assert.deepEqual(mapping.headers, [['Location', '/things/1']]);
    assert.equal(mapping.body.toString(), 'created');
  });

  test('not serialisable → 500 naming the type', async () => {
    const result = await kind('set');
    assert.equal(result.status, 500);
    assert.equal(result.kind, BodyKind.Json);
    assert.match(json(result).error, /Object of type set is not JSON serializable/);
  });

  test('an exception in predict → 500 without its text, logged with its traceback; the worker carries on', async () => {
    const result = await kind('raise', 'req-raise');
    assert.equal(result.status, 500);
    // as Cortex: the client learns nothing of the exception (it may hold secrets); the log has it
    assert.deepEqual(json(result), { error: "internal server error (the exception is in the API's logs)" });
    const line = await waitFor(() => logs.find((l) => l.request_id === 'req-raise'), 'the traceback log line');
    assert.equal(line.level, 'error');
    assert.match(String(line.message), /Traceback[\s\S]*ValueError: something broke/);
    assert.equal((await kind('dict')).status, 200);
  });

  test('print() and logging inside predict → JSON log lines with the request id', async () => {
    await kind('print&n=7', 'client-req-1');
    const job = makeJob({ query: 'kind=print&n=8' }, () => {});
    await new Promise<void>((resolve) => worker.send({ ...job, done: () => resolve() }));
    const printed = await waitFor(() => logs.find((l) => l.message === 'hello from predict 7'), 'the print line');
    assert.equal(printed.request_id, 'client-req-1');
    assert.equal(printed.level, 'info');
    assert.equal(printed.api, 'test-api');
    assert.equal(printed.worker, 3);
    assert.match(String(printed.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const warned = await waitFor(
      () => logs.find((l) => l.message === 'careful' && l.request_id === 'client-req-1'),
      'the logging line',
    );
    assert.equal(warned.level, 'warning');
    const second = await waitFor(() => logs.find((l) => l.message === 'hello from predict 8'), 'the second print line');
    assert.equal(second.request_id, String(job.id));
  });
});

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
