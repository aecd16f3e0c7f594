// TypeScriptWorker with real worker threads and the predictors in fixtures-ts/.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BodyKind, InitError, type PredictResult, type WorkerExit, type WorkerOptions } from './types.ts';
import { TypeScriptWorker } from './typescript.ts';
import { mayReadSecondArgument } from './typescript-thread.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures-ts/', import.meta.url));

interface Harness {
  worker: TypeScriptWorker;
  /** The thread's stdout lines and the worker's own log lines. */
  logs: string[];
  exits: WorkerExit[];
}

const started: TypeScriptWorker[] = [];
after(async () => {
  await Promise.all(started.map((w) => w.shutdown(200)));
});

function options(fixture: string, overrides: Partial<WorkerOptions> = {}): WorkerOptions {
  return {
    api: 'test-api',
    projectDir: FIXTURES,
    predictorPath: FIXTURES + fixture,
    config: {},
    pythonPath: [],
    env: {},
    threads: 1,
    batching: false,
    index: 0,
    logLevel: 'info',
    ...overrides,
  };
}

function create(fixture: string, overrides: Partial<WorkerOptions> = {}): Harness {
  const logs: string[] = [];
  const exits: WorkerExit[] = [];
  const worker = new TypeScriptWorker(options(fixture, overrides), {
    pipeStdout: true,
    log: (line) => logs.push(line),
  });
  worker.onExit((e) => exits.push(e));
  started.push(worker);
  return { worker, logs, exits };
}

async function launch(fixture: string, overrides: Partial<WorkerOptions> = {}): Promise<Harness> {
  const h = create(fixture, overrides);
  const ready = h.worker.start();
  collect(h);
  await ready;
  return h;
}

function collect(h: Harness): void {
  let rest = '';
  h.worker.stdout!.setEncoding('utf8');
  h.worker.stdout!.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    h.logs.push(...lines);
  });
}

let nextId = 1;

interface Req {
  body?: string | Buffer;
  contentType?: string | null;
  query?: string;
  rawHeaders?: string[];
  rid?: string;
  id?: number;
}

function job(r: Req, done: (res: PredictResult) => void) {
  return {
    id: r.id ?? nextId++,
    clientRequestId: r.rid,
    body: typeof r.body === 'string' ? Buffer.from(r.body) : (r.body ?? Buffer.from('{}')),
    contentType: r.contentType === null ? undefined : (r.contentType ?? 'application/json'),
    query: r.query ?? '',
    rawHeaders: r.rawHeaders ?? [],
    done,
  };
}

function request(worker: TypeScriptWorker, r: Req = {}): Promise<PredictResult> {
  return new Promise((resolve) => worker.send(job(r, resolve)));
}

function batch(worker: TypeScriptWorker, rs: Req[]): Promise<PredictResult[]> {
  return Promise.all(
    (() => {
      const promises: Promise<PredictResult>[] = [];
      const jobs = rs.map((r) => job(r, () => {}));
      for (const j of jobs) promises.push(new Promise((resolve) => (j.done = resolve)));
      worker.sendBatch(jobs);
      return promises;
    })(),
  );
}

const json = (r: PredictResult): unknown => JSON.parse(r.body.toString('utf8'));

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

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

describe('TypeScriptWorker: start-up failures', () => {
  it('init() throwing → start() rejects with InitError carrying the message and the stack', async () => {
    const h = create('init-fail.ts');
    const p = h.worker.start();
    collect(h);
    const err = await p.then(
      () => assert.fail('start() should reject'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof InitError);
    assert.equal(err.message, 'model file missing: /models/nope.onnx');
    assert.match(err.detail, /init-fail\.ts/);
    await waitFor(() => h.exits.length === 1);
    assert.equal(h.exits[0].initError, err);
  });

  it('no default export → a message naming the file and what is expected', async () => {
    const h = create('no-default.ts');
    const err = (await h.worker.start().catch((e: unknown) => e)) as InitError;
    assert.ok(err instanceof InitError);
    assert.match(err.message, /no-default\.ts has no default export/);
    assert.match(err.message, /export default class/);
    assert.match(err.message, /it exports: Predictor/);
  });

  it('a missing file → a message naming it', async () => {
    const h = create('does-not-exist.ts');
    const err = (await h.worker.start().catch((e: unknown) => e)) as InitError;
    assert.ok(err instanceof InitError);
    assert.match(err.message, /predictor file not found: .*does-not-exist\.ts/);
  });
});

describe('TypeScriptWorker: JavaScript predictors', () => {
  it('a plain .mjs class with a synchronous predict', async () => {
    const h = await launch('plain.mjs', { config: { factor: 10 } });
    const r = await request(h.worker, { body: '{"x":2}' });
    assert.deepEqual(json(r), { doubled: 40 });
    await h.worker.shutdown(1000);
  });
});

describe('TypeScriptWorker: concurrency', () => {
  it('a CPU-heavy predict does not block the main thread', async () => {
    const h = await launch('kitchen.ts', { config: { greeting: 'hi' } });
    let maxLag = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxLag = Math.max(maxLag, now - last - 5);
      last = now;
    }, 5);
    const t0 = performance.now();
    const r = await request(h.worker, { query: 'return=busy&ms=300' });
    const took = performance.now() - t0;
    clearInterval(timer);
    assert.equal(r.status, 200);
    assert.ok(took >= 290, `the busy loop ran (${took} ms)`);
    assert.ok(maxLag < 50, `main thread timers were late by ${maxLag.toFixed(1)} ms`);
    await h.worker.shutdown(1000);
  });

  it('threads=4: four async predict calls run at once', async () => {
    const h = await launch('sleepy.ts', { threads: 4 });
    const t0 = performance.now();
    const rs = await Promise.all([1, 2, 3, 4].map((n) => request(h.worker, { body: JSON.stringify({ n }) })));
    const took = performance.now() - t0;
    assert.deepEqual(
      rs.map((r) => (json(r) as { n: number }).n),
      [1, 2, 3, 4],
    );
    assert.equal(Math.max(...rs.map((r) => (json(r) as { maxConcurrent: number }).maxConcurrent)), 4);
    assert.ok(took < 390, `4 × 200 ms with 4 threads took ${took.toFixed(0)} ms`);
    // a fifth call waits for a free slot
    const five = await Promise.all([1, 2, 3, 4, 5].map((n) => request(h.worker, { body: JSON.stringify({ n }) })));
    assert.equal(Math.max(...five.map((r) => (json(r) as { maxConcurrent: number }).maxConcurrent)), 4);
    await h.worker.shutdown(1000);
  });

  it('threads=1: async predict calls run one at a time', async () => {
    const h = await launch('sleepy.ts', { threads: 1 });
    const rs = await Promise.all([1, 2].map((n) => request(h.worker, { body: JSON.stringify({ n }) })));
    assert.equal(Math.max(...rs.map((r) => (json(r) as { maxConcurrent: number }).maxConcurrent)), 1);
    await h.worker.shutdown(1000);
  });

  it('5000 requests sent at once are all answered correctly', async () => {
    const h = await launch('trivial.ts');
    const rs = await Promise.all(
      Array.from({ length: 5000 }, (_, i) => request(h.worker, { body: `{"x":${i}}` }).then((r) => [i, r] as const)),
    );
    for (const [i, r] of rs) {
      assert.equal(r.status, 200);
      assert.deepEqual(json(r), { y: i + 1 });
    }
    assert.equal(h.worker.inFlight, 0);
    await h.worker.shutdown(1000);
  });
});

describe('TypeScriptWorker: server-side batching', () => {
  let h: Harness;
  it('predict gets the list and returns one result per payload', async () => {
    h = await launch('batch.ts', { batching: true });
    const rs = await batch(h.worker, [{ body: '1' }, { body: '{"a":2}' }, { body: '"three"' }]);
    assert.deepEqual(rs.map(json), [
      { echo: 1, batchSize: 3 },
      { echo: { a: 2 }, batchSize: 3 },
      { echo: 'three', batchSize: 3 },
    ]);
  });

  it('an item with invalid JSON → 400 alone; the others are predicted', async () => {
    const rs = await batch(h.worker, [{ body: '1' }, { body: '{oops' }, { body: '3' }]);
    assert.deepEqual(
      rs.map((r) => r.status),
      [200, 400, 200],
    );
    assert.deepEqual(json(rs[0]), { echo: 1, batchSize: 2 });
    assert.match((json(rs[1]) as { error: string }).error, /^invalid JSON/);
  });

  it('a wrong number of results → every item 500 with a clear message', async () => {
    const rs = await batch(h.worker, [{ body: '{"wrong":true}' }, { body: '2' }, { body: '3' }]);
    for (const r of rs) {
      assert.equal(r.status, 500);
      assert.match(
        (json(r) as { error: string }).error,
        /one result per payload: it got 3 payloads and returned an array of 2/,
      );
    }
  });

  it('predict throwing → every item 500', async () => {
    const rs = await batch(h.worker, [{ body: '{"fail":true}' }, { body: '2' }]);
    for (const r of rs) {
      assert.equal(r.status, 500);
      assert.deepEqual(json(r), { error: "internal server error (the exception is in the API's logs)" });
    }
    await waitFor(() => h.logs.some((l) => l.includes('batch failed on purpose')));
    const ok = await batch(h.worker, [{ body: '5' }]);
    assert.deepEqual(json(ok[0]), { echo: 5, batchSize: 1 });
    await h.worker.shutdown(1000);
  });
});

describe('TypeScriptWorker: crashes and shutdown', () => {
  it('process.exit inside predict → in-flight jobs answered 503, then onExit', async () => {
    const h = await launch('kitchen.ts', { config: { greeting: 'hi' }, threads: 2 });
    const order: string[] = [];
    h.worker.onExit(() => order.push('exit'));
    const hanging = new Promise<PredictResult>((resolve) =>
      h.worker.send(
        job({ query: 'return=hang' }, (r) => {
          order.push('hang'); // synchronously, to see that it comes before the exit listener
          resolve(r);
        }),
      ),
    );
    await new Promise((r) => setTimeout(r, 50));
    const exiting = request(h.worker, { query: 'return=exit' });
    const [a, b] = await Promise.all([hanging, exiting]);
    assert.equal(a.status, 503);
    assert.equal(b.status, 503);
    assert.deepEqual(json(a), { error: 'worker exited' });
    await waitFor(() => h.exits.length === 1);
    assert.equal(h.exits[0].code, 3);
    assert.deepEqual(order, ['hang', 'exit']);
    assert.equal(h.worker.inFlight, 0);
    const late = await request(h.worker);
    assert.equal(late.status, 503);
  });

  it('an uncaught error in a timer → in-flight answered 503, onExit called, the error logged', async () => {
    const h = await launch('kitchen.ts', { config: { greeting: 'hi' } });
    const r = await request(h.worker, { query: 'return=timer-throw' });
    assert.equal(r.status, 503);
    await waitFor(() => h.exits.length === 1);
    assert.equal(h.exits[0].code, 1);
    assert.ok(h.logs.some((l) => l.includes('boom in a timer')));
  });

  it('shutdown lets in-flight jobs finish', async () => {
    const h = await launch('sleepy.ts', { threads: 2 });
    const rs = [1, 2].map((n) => request(h.worker, { body: JSON.stringify({ n }) }));
    await new Promise((r) => setTimeout(r, 20));
    await h.worker.shutdown(2000);
    for (const r of await Promise.all(rs)) assert.equal(r.status, 200);
    assert.equal(h.exits[0].code, 0);
  });

  it('shutdown terminates after graceMs, answering what is left with 503', async () => {
    const h = await launch('kitchen.ts', { config: { greeting: 'hi' } });
    const r = request(h.worker, { query: 'return=hang' });
    await new Promise((res) => setTimeout(res, 20));
    const t0 = performance.now();
    await h.worker.shutdown(150);
    const took = performance.now() - t0;
    assert.equal((await r).status, 503);
    assert.ok(took >= 140 && took < 1500, `shutdown took ${took.toFixed(0)} ms`);
    assert.equal(h.exits.length, 1);
  });
});

describe('mayReadSecondArgument', () => {
  it('is false only when predict provably ignores its second argument', () => {
    class A {
      one(payload: unknown) {
        return payload;
      }
      two(payload: unknown, ctx: unknown) {
        return [payload, ctx];
      }
      dflt(payload: unknown, ctx = {}) {
        return [payload, ctx];
      }
      destructured({ a }: { a: number }) {
        return a;
      }
      rest(...args: unknown[]) {
        return args;
      }
      args(payload: unknown) {
        return [payload, arguments[1]];
      }
      none() {
        return 1;
      }
      arrow = (x: unknown) => x;
      asyncArrow = async (x: unknown) => x;
    }
    const a = new A();
    assert.equal(mayReadSecondArgument(a.one), false);
    assert.equal(mayReadSecondArgument(a.none), false);
    assert.equal(mayReadSecondArgument(a.arrow), false);
    assert.equal(mayReadSecondArgument(a.asyncArrow), false);
    assert.equal(mayReadSecondArgument(a.two), true);
    assert.equal(mayReadSecondArgument(a.dflt), true);
    assert.equal(mayReadSecondArgument(a.destructured), true);
    assert.equal(mayReadSecondArgument(a.rest), true);
    assert.equal(mayReadSecondArgument(a.args), true);
    assert.equal(mayReadSecondArgument(a.one.bind(a)), true);
  });
});
