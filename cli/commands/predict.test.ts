import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type { TestIOOptions } from '../io.ts';
import { apiStatus, cortex, prodEnv, supervisorStatus, testFactory } from './testing.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'cortex-predict-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const sample = path.join(dir, 'sample.json');
writeFileSync(sample, '{"sepal_length": 5.2}');

interface Call {
  url: string;
  contentType: string | null;
  body: string;
}

/** The local environment with the API `iris` at /iris, answering `answer`. */
function local(answer: () => Promise<Response>, calls: Call[] = [], io: TestIOOptions = {}) {
  return testFactory({
    io,
    local: {
      status: () => Promise.resolve(supervisorStatus([apiStatus()])),
      fetch: async (url, init) => {
        const request = new Request(url, init);
        calls.push({ url, contentType: request.headers.get('content-type'), body: await request.text() });
        return answer();
      },
    },
  });
}

test('predict API FILE posts the file to the endpoint and prints the answer as is', async () => {
  const calls: Call[] = [];
  const f = local(() => Promise.resolve(new Response('setosa')), calls); // text/plain: a line
  assert.deepEqual(await cortex(f, 'predict', 'iris', sample), { code: 0, stdout: 'setosa\n', stderr: '' });
  assert.deepEqual(calls, [
    { url: 'http://127.0.0.1:8888/iris', contentType: 'application/json', body: '{"sepal_length": 5.2}' },
  ]);
  const bytes = () => new Response('setosa', { headers: { 'content-type': 'application/octet-stream' } });
  const tty = local(() => Promise.resolve(bytes()), [], { stdoutTTY: true });
  assert.equal((await cortex(tty, 'predict', 'iris', sample)).stdout, 'setosa\n', 'a newline on a terminal');
});

test('a text or JSON answer ends with a newline also when stdout is not a terminal; bytes stay as is', async () => {
  const answer = (body: string, type: string) => () =>
    Promise.resolve(new Response(body, { headers: { 'content-type': type } }));
  const json = local(answer('{"label":"setosa"}', 'application/json'));
  assert.equal((await cortex(json, 'predict', 'iris', sample)).stdout, '{"label":"setosa"}\n');
  const text = local(answer('setosa', 'text/plain; charset=utf-8'));
  assert.equal((await cortex(text, 'predict', 'iris', sample)).stdout, 'setosa\n');
  const line = local(answer('setosa\n', 'text/plain'));
  assert.equal((await cortex(line, 'predict', 'iris', sample)).stdout, 'setosa\n', 'not a second one');
  const bytes = local(answer('\x01\x02', 'application/octet-stream'));
  assert.equal((await cortex(bytes, 'predict', 'iris', sample)).stdout, '\x01\x02');
});

test('predict reads stdin (- or when it is not a terminal), with -H for its content type', async () => {
  const calls: Call[] = [];
  const f = local(() => Promise.resolve(new Response('ok')), calls, { stdin: 'a,b' });
  assert.equal((await cortex(f, 'predict', 'iris', '-', '-H', 'text/csv')).code, 0);
  const g = local(() => Promise.resolve(new Response('ok')), calls, { stdin: '{}' });
  assert.equal((await cortex(g, 'predict', 'iris')).code, 0);
  assert.deepEqual(
    calls.map((c) => [c.contentType, c.body]),
    [
      ['text/csv', 'a,b'],
      ['application/json', '{}'],
    ],
  );
  const terminal = await cortex(testFactory({ io: { stdinTTY: true } }), 'predict', 'iris');
  assert.deepEqual(terminal, {
    code: 2,
    stdout: '',
    stderr: 'error: give the request body: a file (cortex predict API sample.json) or - to read stdin\n',
  });
});

test('predict: an answer that is not 2XX is printed and exits 1', async () => {
  const f = local(() => Promise.resolve(new Response('no sepal_length', { status: 400, statusText: 'Bad Request' })));
  assert.deepEqual(await cortex(f, 'predict', 'iris', sample), {
    code: 1,
    stdout: 'no sepal_length\n',
    stderr: 'error: iris answered 400 Bad Request\n',
  });
});

test('predict: a missing file (2), an unknown API (3), an API that does not answer (1)', async () => {
  const missing = await cortex(testFactory(), 'predict', 'iris', path.join(dir, 'nope.json'));
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: cannot read .*nope\.json: ENOENT/);
  const f = local(() => Promise.resolve(new Response('')));
  assert.deepEqual(await cortex(f, 'predict', 'rose', sample), {
    code: 3,
    stdout: '',
    stderr: 'error: no API named rose; deployed: iris\n',
  });
  const down = local(() => Promise.reject(new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') })));
  assert.deepEqual(await cortex(down, 'predict', 'iris', sample), {
    code: 1,
    stdout: '',
    stderr: 'error: could not reach http://localhost:8888/iris: connect ECONNREFUSED\n',
  });
});

test('predict -e CLUSTER goes through the API server proxy', async () => {
  const calls: [string, string, string][] = [];
  const f = testFactory({
    environments: [prodEnv],
    cluster: {
      predict: (name, body, contentType) => {
        calls.push([name, body.toString(), contentType]);
        return Promise.resolve({ status: 503, statusText: 'Service Unavailable', body: [Buffer.from('no endpoints')] });
      },
    },
  });
  assert.deepEqual(await cortex(f, 'predict', 'iris', sample, '-e', 'prod'), {
    code: 1,
    stdout: 'no endpoints',
    stderr: 'error: iris answered 503 Service Unavailable\n',
  });
  assert.deepEqual(calls, [['iris', '{"sepal_length": 5.2}', 'application/json']]);
});

test('a streamed answer is printed chunk by chunk as it arrives, not when it ends', async () => {
  // The API sends an event, then waits until it is on stdout before it sends the next: an answer
  // buffered until its end would never get past the first (the test would time out).
  const events = ['data: {"token":"a"}\n\n', 'data: {"token":"b"}\n\n', 'data: [DONE]\n\n'];
  const printed: string[] = [];
  let onPrint = () => {};
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent === events.length) return controller.close();
      while (printed.length < sent) await new Promise<void>((resolve) => (onPrint = resolve));
      controller.enqueue(new TextEncoder().encode(events[sent++]));
    },
  });
  const f = local(() => Promise.resolve(new Response(stream, { headers: { 'content-type': 'text/event-stream' } })));
  const write = f.io.stdout.write.bind(f.io.stdout);
  f.io.stdout.write = (chunk) => {
    printed.push(Buffer.from(chunk).toString());
    onPrint();
    return write(chunk);
  };
  assert.equal((await cortex(f, 'predict', 'iris', sample)).code, 0);
  assert.deepEqual(printed, events, 'each event printed on its own, in order, and nothing added');
});

test('an answer cut in the middle: what arrived is printed, then an error naming how far it got (exit 1)', async () => {
  let sent = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) return controller.error(new TypeError('terminated', { cause: new Error('other side closed') }));
      sent = true;
      controller.enqueue(new TextEncoder().encode('{"token":"a"}\n'));
    },
  });
  const f = local(() => Promise.resolve(new Response(stream, { headers: { 'content-type': 'application/x-ndjson' } })));
  assert.deepEqual(await cortex(f, 'predict', 'iris', sample), {
    code: 1,
    stdout: '{"token":"a"}\n',
    stderr: 'error: the answer of http://localhost:8888/iris was cut after 14 bytes: other side closed\n',
  });
});

test('stdout closed by its reader (| head -1): printing stops quietly and the answer is cancelled', async () => {
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    pull: (controller) => controller.enqueue(new TextEncoder().encode('{"token":"a"}\n')), // endless
    cancel: () => void (cancelled = true),
  });
  const f = local(() => Promise.resolve(new Response(stream, { headers: { 'content-type': 'application/x-ndjson' } })));
  // a pipe whose reader left: the first write is taken, then EPIPE, as process.stdout reports it
  const events = new EventEmitter();
  let writes = 0;
  Object.assign(f.io.stdout, {
    on: events.on.bind(events),
    off: events.off.bind(events),
    write: () => {
      if (++writes === 1)
        setImmediate(() => events.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })));
      return false;
    },
  });
  assert.deepEqual(await cortex(f, 'predict', 'iris', sample), { code: 0, stdout: '', stderr: '' });
  assert.ok(cancelled, 'the answer was cancelled: its connection closes and the API stops the generator');
  assert.equal(writes, 1, 'nothing more was written');
});
