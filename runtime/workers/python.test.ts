// PythonWorker + runtime/python/cortex_host.py, with real Python processes and the fixture
// predictors in ./fixtures: the frames, how payloads are decoded, which parameters predict gets,
// and what its return values become. Lifecycle (post_predict, init failures, concurrency,
// batching, exits): python-lifecycle.test.ts.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FrameReader, requestHead } from './frames.ts';
import { PythonWorker } from './python.ts';
import { ask, fixtureWorkers, json, makeJob, stopWorkers, waitFor, type Req } from './python-testing.ts';
import { BodyKind, type PredictResult } from './types.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const live: PythonWorker[] = [];
after(() => stopWorkers(live));
const { startWorker } = fixtureWorkers(FIXTURES, live);

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
