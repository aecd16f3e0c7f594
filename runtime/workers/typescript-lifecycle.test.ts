// A TypeScriptWorker's life (real worker threads, fixtures-ts/): loading the predictor (start-up
// failures with messages that say what to fix, plain JavaScript, whether predict reads its second
// argument), then its end: a thread that exits or crashes, and a graceful or forced shutdown.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { InitError, type PredictResult } from './types.ts';
import { mayReadSecondArgument } from './typescript-thread.ts';
import { collect, create, job, json, launch, request, stopStarted, waitFor } from './typescript-testing.ts';

after(stopStarted);

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
