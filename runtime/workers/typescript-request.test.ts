// A request's life in TypeScriptWorker (real worker threads, fixtures-ts/kitchen.ts): the payload
// predict gets for each content type, the response each return value becomes, predict throwing,
// and the JSON log lines console.* writes with the request id.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { BodyKind } from './types.ts';
import { json, launch, nextId, request, stopStarted, waitFor, type Harness } from './typescript-testing.ts';

after(stopStarted);

describe('TypeScriptWorker: payloads', () => {
  let h: Harness;
  it('starts (constructor with config, async init) and answers', async () => {
    h = await launch('kitchen.ts', { config: { greeting: 'hello' } });
    assert.equal(typeof h.worker.pid, 'number');
    const r = await request(h.worker, { query: 'return=state' });
    assert.equal(r.status, 200);
    assert.equal(r.kind, BodyKind.Json);
    // init() (which awaits a timer) completed before the first predict
    assert.deepEqual(json(r), { config: { greeting: 'hello' }, initialised: true, calls: 1 });
  });

  it('application/json → parsed value', async () => {
    const r = await request(h.worker, { body: '{"a":[1,2],"b":"x"}' });
    assert.deepEqual(json(r), { type: 'object', value: { a: [1, 2], b: 'x' } });
    const n = await request(h.worker, { body: '42', contentType: 'application/json; charset=utf-8' });
    assert.deepEqual(json(n), { type: 'number', value: 42 });
  });

  it('invalid JSON → 400 with the parser message', async () => {
    const r = await request(h.worker, { body: '{"a":' });
    assert.equal(r.status, 400);
    const err = (json(r) as { error: string }).error;
    assert.match(err, /^invalid JSON: /);
    assert.ok(err.length > 'invalid JSON: '.length);
    const empty = await request(h.worker, { body: '' });
    assert.equal(empty.status, 400);
  });

  it('text/plain → string, honouring the charset', async () => {
    const r = await request(h.worker, { body: 'héllo', contentType: 'text/plain' });
    assert.deepEqual(json(r), { type: 'string', value: 'héllo' });
    const latin1 = await request(h.worker, {
      body: Buffer.from([0x63, 0x61, 0x66, 0xe9]),
      contentType: 'text/plain; charset=ISO-8859-1',
    });
    assert.deepEqual(json(latin1), { type: 'string', value: 'café' });
    const bad = await request(h.worker, { body: Buffer.from([0xff, 0xfe]), contentType: 'text/plain' });
    assert.equal(bad.status, 400);
  });

  it('url-encoded form → plain object', async () => {
    const r = await request(h.worker, {
      body: 'a=1&b=two+words&a=3',
      contentType: 'application/x-www-form-urlencoded',
    });
    assert.deepEqual(json(r), { type: 'object', value: { a: '3', b: 'two words' } });
  });

  it('multipart form → plain object, file parts as bytes', async () => {
    const form = new FormData();
    form.append('name', 'iris');
    form.append('file', new Blob([Buffer.from('file contents')]), 'data.bin');
    const res = new Response(form);
    const body = Buffer.from(await res.arrayBuffer());
    const r = await request(h.worker, { body, contentType: res.headers.get('content-type')! });
    assert.equal(r.status, 200);
    assert.deepEqual(json(r), { type: 'object', value: { name: 'iris', file: { bytes: 'file contents' } } });
  });

  it('any other content type (or none) → Buffer', async () => {
    const r = await request(h.worker, { body: Buffer.from([0, 1, 2, 250]), contentType: 'application/octet-stream' });
    // a Buffer of its own: `new Float32Array(payload.buffer)` sees this body only
    assert.deepEqual(json(r), { type: 'buffer', hex: '000102fa', ownsBuffer: true });
    const none = await request(h.worker, { body: 'xyz', contentType: null });
    assert.deepEqual(json(none), { type: 'buffer', hex: Buffer.from('xyz').toString('hex'), ownsBuffer: true });
  });

  it('queryParams (last value wins) and headers (lowercased) reach predict', async () => {
    const r = await request(h.worker, {
      query: 'return=headers&model=a&model=b',
      rawHeaders: ['Host', 'example', 'X-Thing', 'one', 'x-thing', 'two', 'Cookie', 'a=1', 'cookie', 'b=2'],
    });
    assert.deepEqual(json(r), {
      queryParams: { return: 'headers', model: 'b' },
      headers: { host: 'example', 'x-thing': 'one, two', cookie: 'a=1; b=2' },
    });
  });

  it('shuts down cleanly', async () => {
    await h.worker.shutdown(1000);
    assert.deepEqual(h.exits, [{ code: 0, signal: null }]);
    const late = await request(h.worker);
    assert.equal(late.status, 503);
  });
});

describe('TypeScriptWorker: return values', () => {
  let h: Harness;
  it('starts', async () => {
    h = await launch('kitchen.ts', { config: { greeting: 'hi' } });
  });

  it('string → text', async () => {
    const r = await request(h.worker, { query: 'return=text' });
    assert.equal(r.status, 200);
    assert.equal(r.kind, BodyKind.Text);
    assert.equal(r.body.toString('utf8'), 'hi, wörld');
  });

  it('Buffer and Uint8Array → bytes', async () => {
    const r = await request(h.worker, { query: 'return=bytes' });
    assert.equal(r.kind, BodyKind.Bytes);
    assert.deepEqual([...r.body], [1, 2, 3, 255]);
    const u = await request(h.worker, { query: 'return=uint8array' });
    assert.equal(u.kind, BodyKind.Bytes);
    assert.deepEqual([...u.body], [9, 8, 7]);
  });

  it('a Response → its status, headers and body', async () => {
    const r = await request(h.worker, { query: 'return=response' });
    assert.equal(r.status, 201);
    assert.equal(r.kind, BodyKind.Custom);
    assert.equal(r.body.toString(), 'created!');
    const headers = new Map(r.headers);
    assert.equal(headers.get('x-custom'), 'yes');
    assert.equal(headers.get('content-type'), 'text/x-custom');
    const j = await request(h.worker, { query: 'return=json-response&model=nope' });
    assert.equal(j.status, 400);
    assert.equal(new Map(j.headers).get('content-type'), 'application/json');
    assert.deepEqual(json(j), { error: 'unknown model: nope' });
  });

  it('undefined → JSON null', async () => {
    const r = await request(h.worker, { query: 'return=undefined' });
    assert.equal(r.status, 200);
    assert.equal(r.kind, BodyKind.Json);
    assert.equal(r.body.toString(), 'null');
  });

  it('not serialisable → 500 naming the problem', async () => {
    const big = await request(h.worker, { query: 'return=bigint' });
    assert.equal(big.status, 500);
    assert.match((json(big) as { error: string }).error, /not JSON-serialisable.*BigInt/);
    const circ = await request(h.worker, { query: 'return=circular' });
    assert.equal(circ.status, 500);
    assert.match((json(circ) as { error: string }).error, /not JSON-serialisable.*circular/);
  });

  it('predict throwing → 500 without its text, logged with the stack; later requests work', async () => {
    const r = await request(h.worker, { query: 'return=throw', rid: 'req-throw' });
    assert.equal(r.status, 500);
    // as Cortex: the client learns nothing of the exception (it may hold secrets); the log has it
    assert.deepEqual(json(r), { error: "internal server error (the exception is in the API's logs)" });
    const ok = await request(h.worker, { query: 'return=text' });
    assert.equal(ok.status, 200);
    await waitFor(() => h.logs.some((l) => l.includes('req-throw')));
    const line = JSON.parse(h.logs.find((l) => l.includes('req-throw'))!);
    assert.equal(line.level, 'error');
    assert.match(line.message, /RangeError: bad thing happened\n\s+at .*kitchen\.ts/);
    assert.doesNotMatch(line.message, /typescript-thread/);
  });

  it('shuts down', async () => {
    await h.worker.shutdown(1000);
  });
});

describe('TypeScriptWorker: logs', () => {
  it('console.* in predict → one JSON line per call with the request id; log level honoured', async () => {
    const h = await launch('kitchen.ts', { config: { greeting: 'hi' }, index: 2 });
    const r = await request(h.worker, { query: 'return=log', rid: 'abc-123' });
    assert.equal(r.body.toString(), 'logged');
    const id = nextId;
    await request(h.worker, { query: 'return=log', id });
    await request(h.worker, { query: 'return=text&post=1', rid: 'post-1' });
    await request(h.worker, { query: 'return=text&post=throw', rid: 'post-2' });
    await waitFor(() => h.logs.filter((l) => l.includes('postPredict')).length >= 2);
    const lines = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const mine = lines.filter((l) => l.request_id === 'abc-123');
    assert.equal(mine.length, 2, 'the debug line is dropped at log level info');
    assert.deepEqual(Object.keys(mine[0]), ['time', 'level', 'api', 'worker', 'request_id', 'message']);
    assert.equal(mine[0].level, 'info');
    assert.equal(mine[0].api, 'test-api');
    assert.equal(mine[0].worker, 2);
    assert.equal(mine[0].message, 'hello from predict { n: 1 }');
    assert.ok(!Number.isNaN(Date.parse(mine[0].time as string)));
    // after an await: still the same request
    assert.equal(mine[1].level, 'warning');
    assert.equal(mine[1].message, 'after await');
    // without X-Request-ID: the job id
    assert.equal(lines.filter((l) => l.request_id === String(id)).length, 2);
    // postPredict runs after the response, with the request id; its errors are only logged
    const post = lines.find((l) => l.request_id === 'post-1' && String(l.message).startsWith('postPredict ran'));
    assert.equal(post?.message, 'postPredict ran "hi, wörld"');
    const postErr = lines.find((l) => l.request_id === 'post-2');
    assert.equal(postErr?.level, 'error');
    assert.match(String(postErr?.message), /postPredict exploded/);
    await h.worker.shutdown(1000);
  });

  it('log level debug keeps debug lines', async () => {
    const h = await launch('kitchen.ts', { config: { greeting: 'hi' }, logLevel: 'debug' });
    await request(h.worker, { query: 'return=log', rid: 'dbg' });
    await waitFor(() => h.logs.filter((l) => l.includes('"dbg"')).length >= 3);
    assert.ok(h.logs.some((l) => l.includes('a debug line') && l.includes('"level":"debug"')));
    await h.worker.shutdown(1000);
  });
});
