// PythonWorker + cortex_host.py with Cortex 0.34-0.35's Handler class: handle_<verb> methods
// chosen by the request's method (meta "m"), 405 for a verb it lacks, callbacks after the response.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PythonWorker } from './python.ts';
import { fixtureOptions, stopWorkers } from './python-testing.ts';
import { BodyKind, InitError, type PredictResult, type WorkerOptions } from './types.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const TMP = mkdtempSync(join(tmpdir(), 'cortex-handler-'));
const live: PythonWorker[] = [];
let nextId = 1;

after(() => stopWorkers(live));

const options = (file: string, over: Partial<WorkerOptions> = {}) =>
  fixtureOptions(FIXTURES, file, { api: 'handler-api', env: { HANDLER_TMP: TMP }, index: 0, ...over });

async function start(
  file: string,
  over: Partial<WorkerOptions> = {},
): Promise<{ worker: PythonWorker; logs: string[] }> {
  const worker = new PythonWorker(options(file, over), { stdio: 'pipe' });
  live.push(worker);
  const started = worker.start(); // spawns the process: its stdout and stderr exist from here
  const logs: string[] = [];
  worker.stdout?.setEncoding('utf8').on('data', (t: string) => logs.push(t));
  worker.stderr?.setEncoding('utf8').on('data', (t: string) => logs.push(t));
  await started;
  return { worker, logs };
}

function ask(
  worker: PythonWorker,
  method: string | undefined,
  body = '',
  extra: { query?: string; headers?: string[]; contentType?: string } = {},
): Promise<PredictResult> {
  return new Promise((resolve) =>
    worker.send({
      id: nextId++,
      body: Buffer.from(body),
      contentType: extra.contentType ?? (body ? 'application/json' : undefined),
      query: extra.query ?? '',
      rawHeaders: extra.headers ?? [],
      method,
      done: resolve,
    }),
  );
}

const json = (r: PredictResult): unknown => JSON.parse(r.body.toString('utf8'));

test("READY lists a Handler's verbs; each handle_<verb> gets the parameters it declares", async () => {
  const { worker } = await start('handler.py');
  assert.deepEqual(worker.ready?.verbs, ['POST', 'GET', 'PUT', 'DELETE']);
  assert.deepEqual(worker.ready?.params, ['payload', 'query_params', 'headers']);
  const get = await ask(worker, 'GET', '', { query: 'a=1&a=2&b=x', headers: ['X-Test', 'yes'] });
  assert.equal(get.status, 200);
  assert.deepEqual(json(get), { query: { a: '2', b: 'x' }, agent: 'yes' });
  const put = await ask(worker, 'PUT', '"v"');
  assert.deepEqual([put.status, put.kind, put.body.toString()], [200, BodyKind.Text, 'put v']);
  const del = await ask(worker, 'DELETE');
  assert.deepEqual(json(del), ['deleted', 1]);
  const patch = await ask(worker, 'PATCH', '{}');
  assert.equal(patch.status, 405);
  assert.deepEqual(patch.headers, [
    ['content-type', 'application/json'],
    ['allow', 'POST, GET, PUT, DELETE'],
  ]);
  assert.match((json(patch) as { error: string }).error, /method PATCH not allowed/);
});

test('a callback runs after the response was sent; a failing one is logged and changes nothing', async () => {
  const { worker, logs } = await start('handler.py');
  const done = join(TMP, 'callback-done');
  const post = await ask(worker, undefined, '{"n": 7}');
  assert.deepEqual([post.status, json(post)], [200, { posted: { n: 7 } }]);
  assert.equal(existsSync(done), false, 'the response came before the callback finished');
  const until = Date.now() + 5000;
  while (!existsSync(done) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  assert.equal(readFileSync(done, 'utf8'), '7');
  const put = await ask(worker, 'PUT', '1');
  assert.equal(put.status, 200);
  const after2 = await ask(worker, 'DELETE');
  assert.equal(after2.status, 200, 'the worker still answers after a callback raised');
  const logged = Date.now() + 5000;
  while (!/callback failed on purpose/.test(logs.join('')) && Date.now() < logged) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.match(logs.join(''), /callback: Traceback[^]*callback failed on purpose/);
});

test('a Handler without handle_post answers POST 405; with batching it may define only handle_post', async () => {
  const { worker } = await start('handler_get_only.py');
  assert.deepEqual(worker.ready?.verbs, ['GET']);
  const post = await ask(worker, undefined, '{}');
  assert.equal(post.status, 405);
  assert.deepEqual(post.headers?.[1], ['allow', 'GET']);
  assert.equal((await ask(worker, 'GET')).body.toString(), 'only get');
  await assert.rejects(
    start('handler.py', { batching: true }),
    (err: unknown) => err instanceof InitError && /may only define handle_post/.test(err.message),
  );
});

test('a file with neither class is an init error', async () => {
  await assert.rejects(
    start('no_class.py'),
    (err: unknown) => err instanceof InitError && /does not define a class named PythonPredictor/.test(err.message),
  );
});

test('with server_side_batching, handle_post gets the list and may return (results, callback)', async () => {
  const { worker, logs } = await start('handler_batch.py', { batching: true });
  const answers = [1, 2, 3].map(
    (n) =>
      new Promise<PredictResult>((resolve) =>
        worker.sendBatch([
          {
            id: nextId++,
            body: Buffer.from(String(n)),
            contentType: 'application/json',
            query: '',
            rawHeaders: [],
            done: resolve,
          },
        ]),
      ),
  );
  assert.deepEqual(
    (await Promise.all(answers)).map((r) => json(r)),
    [2, 4, 6],
  );
  const until = Date.now() + 5000;
  while (!/callback saw a batch of 1/.test(logs.join('')) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.match(logs.join(''), /callback saw a batch of 1/);
});
