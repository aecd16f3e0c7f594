import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { apiLogger } from '../operator/util/log.ts';
import { Dispatcher } from './dispatcher.ts';
import { WorkerPool } from './pool.ts';
import type { PredictJob, PredictorWorker, WorkerExit } from './workers/types.ts';

/** A worker that is ready at once and exits when shut down or killed. */
class FakeWorker implements PredictorWorker {
  readonly index: number;
  readonly pid: number;
  accepting = false;
  shutdowns: number[] = [];
  #listeners: ((exit: WorkerExit) => void)[] = [];
  constructor(index: number, pid: number) {
    this.index = index;
    this.pid = pid;
  }
  get inFlight() {
    return 0;
  }
  async start() {
    this.accepting = true;
  }
  send(_job: PredictJob) {}
  sendBatch(_jobs: PredictJob[]) {}
  async shutdown(graceMs: number) {
    this.shutdowns.push(graceMs);
    this.exit({ code: null, signal: 'SIGKILL' });
  }
  onExit(listener: (exit: WorkerExit) => void) {
    this.#listeners.push(listener);
  }
  exit(exit: WorkerExit) {
    this.accepting = false;
    for (const l of this.#listeners.splice(0)) l(exit);
  }
}

function pool(lines: string[]) {
  const created: FakeWorker[] = [];
  let restarts = 0;
  const dispatcher = new Dispatcher({ threadsPerWorker: 1, maxConcurrency: 10 });
  const p = new WorkerPool({
    size: 1,
    create: (index) => {
      const w = new FakeWorker(index, 100 + created.length);
      created.push(w);
      return w;
    },
    dispatcher,
    logger: apiLogger('t', 'info', (chunk) => lines.push(chunk)),
    onRestart: () => restarts++,
    onFatal: () => assert.fail('no init error here'),
    backoffMs: 5_000,
  });
  return { p, created, dispatcher, restarts: () => restarts };
}

test('a stuck worker is replaced at once: killed, restarted without crash backoff', async () => {
  const lines: string[] = [];
  const { p, created, dispatcher, restarts } = pool(lines);
  await p.start();
  assert.equal(p.startedOnce, true);
  assert.equal(dispatcher.usableSlots, 1);
  p.replace(created[0], 'has been running a predict for more than 3 s');
  assert.deepEqual(created[0].shutdowns, [0], 'killed, not drained');
  assert.equal(dispatcher.usableSlots, 0);
  await sleep(20); // a crash would wait backoffMs (5 s) before restarting
  assert.equal(created.length, 2, 'a new worker was started at once');
  assert.equal(created[1].accepting, true);
  assert.equal(dispatcher.usableSlots, 1);
  assert.equal(restarts(), 1, 'counted in cortex_worker_restarts_total');
  // The logger writes on setImmediate; on a loaded machine the 20 ms timer can fire first.
  await new Promise((resolve) => setImmediate(resolve));
  assert.match(lines.join(''), /worker 0 has been running a predict for more than 3 s; replacing it/);
  await p.shutdown(0);
});

test('a crashed worker waits for its backoff before it restarts', async () => {
  const { p, created } = pool([]);
  await p.start();
  created[0].exit({ code: 1, signal: null });
  await sleep(20);
  assert.equal(created.length, 1, 'still in its 5 s backoff');
  await p.shutdown(0);
});
