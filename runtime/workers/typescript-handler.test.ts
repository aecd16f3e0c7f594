// TypeScriptWorker with a handler class (handlePost, handleGet...): the HTTP method picks the method.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { InitError, type PredictResult, type WorkerOptions } from './types.ts';
import { TypeScriptWorker } from './typescript.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures-ts/', import.meta.url));
const started: TypeScriptWorker[] = [];
after(async () => {
  await Promise.all(started.map((w) => w.shutdown(200)));
});

function worker(fixture: string, over: Partial<WorkerOptions> = {}): TypeScriptWorker {
  const w = new TypeScriptWorker({
    api: 'ts-handler',
    projectDir: FIXTURES,
    predictorPath: FIXTURES + fixture,
    config: {},
    pythonPath: [],
    env: { NOTES_OWNER: 'Ada' },
    threads: 1,
    batching: false,
    index: 0,
    logLevel: 'info',
    ...over,
  });
  started.push(w);
  return w;
}

let nextId = 1;
function ask(w: TypeScriptWorker, method: string | undefined, body = '', query = ''): Promise<PredictResult> {
  return new Promise((resolve) =>
    w.send({
      id: nextId++,
      body: Buffer.from(body),
      contentType: body ? 'application/json' : undefined,
      query,
      rawHeaders: [],
      method,
      done: resolve,
    }),
  );
}
const json = (r: PredictResult): unknown => JSON.parse(r.body.toString('utf8'));

test('a handler class: verbs in READY, each method reaches its handle<Verb>, others 405', async () => {
  const w = worker('handler.ts');
  await w.start();
  assert.deepEqual([...(w.verbs ?? [])], ['POST', 'GET', 'DELETE']);
  assert.deepEqual(json(await ask(w, undefined, '{"text":"a"}')), { id: '1' });
  assert.deepEqual(json(await ask(w, 'GET', '', 'x=1')), {
    notes: { 1: 'a' },
    q: { x: '1' },
    method: 'GET',
    env: 'Ada',
  });
  assert.deepEqual(json(await ask(w, 'DELETE', '', 'id=1')), { deleted: true });
  const put = await ask(w, 'PUT', '{}');
  assert.equal(put.status, 405);
  assert.match((json(put) as { error: string }).error, /method PUT not allowed/);
});

test('a predictor class has no verbs; a handler class with batching may define only handlePost', async () => {
  const p = worker('trivial.ts');
  await p.start();
  assert.equal(p.verbs, undefined);
  await assert.rejects(
    worker('handler.ts', { batching: true }).start(),
    (err: unknown) => err instanceof InitError && /may only define handlePost/.test(err.message),
  );
});
