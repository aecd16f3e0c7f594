import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { Dispatcher } from './dispatcher.ts';
import {
  BodyKind,
  type PredictJob,
  type PredictResult,
  type PredictorWorker,
  type WorkerExit,
} from './workers/types.ts';

/** An in-memory worker whose jobs the test answers by hand. */
class HeldWorker implements PredictorWorker {
  readonly index: number;
  readonly pid = undefined;
  accepting = true;
  readonly held: PredictJob[] = [];
  readonly sent: PredictJob[] = [];
  readonly batches: PredictJob[][] = [];
  constructor(index: number) {
    this.index = index;
  }
  get inFlight() {
    return this.held.length;
  }
  async start() {}
  send(job: PredictJob) {
    this.sent.push(job);
    this.held.push(job);
  }
  sendBatch(jobs: PredictJob[]) {
    this.batches.push(jobs);
    this.held.push(...jobs);
  }
  async shutdown() {}
  onExit(_listener: (exit: WorkerExit) => void) {}
  answerAll() {
    for (const job of this.held.splice(0)) job.done(ok(job.id));
  }
}

const ok = (id: number): PredictResult => ({ status: 200, kind: BodyKind.Json, body: Buffer.from(String(id)) });

function job(id: number, answers: Map<number, PredictResult>): PredictJob {
  return {
    id,
    body: Buffer.alloc(0),
    contentType: undefined,
    query: '',
    rawHeaders: [],
    done: (r) => answers.set(id, r),
  };
}

test('a request goes to an idle worker, never waits behind a busy one (Cortex #839)', () => {
  const d = new Dispatcher({ threadsPerWorker: 1, maxConcurrency: 100 });
  const [a, b] = [new HeldWorker(0), new HeldWorker(1)];
  d.addWorker(a);
  d.addWorker(b);
  const answers = new Map<number, PredictResult>();
  for (const w of [a, b]) {
    d.submit(job(100 + w.index, answers));
  }
  assert.equal(a.held.length, 1);
  assert.equal(b.held.length, 1);
});

test('over max_replica_concurrency, submit refuses at once and in-flight counts queued jobs', () => {
  const d = new Dispatcher({ threadsPerWorker: 1, maxConcurrency: 3 });
  const answers = new Map<number, PredictResult>();
  assert.equal(d.submit(job(1, answers)), true); // no worker yet: queued
  assert.equal(d.submit(job(2, answers)), true);
  assert.equal(d.submit(job(3, answers)), true);
  assert.equal(d.submit(job(4, answers)), false);
  assert.equal(d.inFlight, 3);
  assert.equal(d.queueLength, 3);
  const w = new HeldWorker(0);
  d.addWorker(w);
  assert.ok(w.held.length >= 1, 'queued jobs flow to a worker as soon as one is added');
  while (w.held.length > 0) w.answerAll();
  assert.equal(answers.size, 3);
  assert.equal(d.inFlight, 0);
  assert.equal(d.submit(job(5, answers)), true);
});

test('a slow predictor is fed strictly on demand; a fast one is pipelined', async () => {
  const slow = new Dispatcher({ threadsPerWorker: 1, maxConcurrency: 100 });
  const w = new HeldWorker(0);
  slow.addWorker(w);
  const answers = new Map<number, PredictResult>();
  slow.submit(job(1, answers));
  await sleep(20);
  w.answerAll(); // service time ~20 ms
  for (let i = 2; i < 10; i++) slow.submit(job(i, answers));
  assert.equal(w.held.length, 1, 'only threads_per_process jobs at a slow worker');
  assert.equal(slow.queueLength, 7);

  const fast = new Dispatcher({ threadsPerWorker: 1, maxConcurrency: 1000 });
  const f = new HeldWorker(0);
  fast.addWorker(f);
  for (let round = 0; round < 20; round++) {
    fast.submit(job(round, answers));
    f.answerAll(); // answered immediately: service time ~0
  }
  for (let i = 0; i < 100; i++) fast.submit(job(1000 + i, answers));
  assert.ok(f.held.length > 10, `fast worker got ${f.held.length} pipelined jobs`);
  assert.ok(f.held.length <= 65);
});

test('batches are sent when full', () => {
  const d = new Dispatcher({
    threadsPerWorker: 1,
    maxConcurrency: 100,
    batching: { maxBatchSize: 4, intervalMs: 10_000 },
  });
  const w = new HeldWorker(0);
  d.addWorker(w);
  const answers = new Map<number, PredictResult>();
  for (let i = 0; i < 4; i++) d.submit(job(i, answers));
  assert.equal(w.batches.length, 1);
  assert.equal(w.batches[0].length, 4);
  for (let i = 4; i < 7; i++) d.submit(job(i, answers));
  assert.equal(w.batches.length, 1, 'a partial batch waits for its interval');
  assert.equal(d.queueLength, 3);
  d.failPending(ok(0));
});

test('a partial batch is sent when the interval since its first item has passed', async () => {
  const sizes: number[] = [];
  const d = new Dispatcher({
    threadsPerWorker: 1,
    maxConcurrency: 100,
    batching: { maxBatchSize: 8, intervalMs: 30 },
    onBatch: (n) => sizes.push(n),
  });
  const w = new HeldWorker(0);
  d.addWorker(w);
  const answers = new Map<number, PredictResult>();
  d.submit(job(1, answers));
  await sleep(10);
  d.submit(job(2, answers));
  assert.equal(w.batches.length, 0);
  await sleep(40);
  assert.deepEqual(sizes, [2]);
  w.answerAll();
  assert.equal(d.inFlight, 0);
});

test('a batch waits while the worker is busy with another batch', () => {
  const d = new Dispatcher({
    threadsPerWorker: 1,
    maxConcurrency: 100,
    batching: { maxBatchSize: 2, intervalMs: 10_000 },
  });
  const w = new HeldWorker(0);
  d.addWorker(w);
  const answers = new Map<number, PredictResult>();
  for (let i = 0; i < 4; i++) d.submit(job(i, answers));
  assert.equal(w.batches.length, 1);
  w.answerAll();
  assert.equal(w.batches.length, 2, 'the second batch goes once the first is answered');
  w.answerAll();
  assert.equal(d.inFlight, 0);
});

test('failPending answers queued and forming jobs', () => {
  const d = new Dispatcher({
    threadsPerWorker: 1,
    maxConcurrency: 100,
    batching: { maxBatchSize: 2, intervalMs: 10_000 },
  });
  const answers = new Map<number, PredictResult>();
  for (let i = 0; i < 3; i++) d.submit(job(i, answers));
  d.failPending({ status: 503, kind: BodyKind.Json, body: Buffer.from('{}') });
  assert.equal(answers.size, 3);
  assert.ok([...answers.values()].every((r) => r.status === 503));
  assert.equal(d.inFlight, 0);
});

test('a removed worker gets nothing more', () => {
  const d = new Dispatcher({ threadsPerWorker: 1, maxConcurrency: 100 });
  const [a, b] = [new HeldWorker(0), new HeldWorker(1)];
  d.addWorker(a);
  d.addWorker(b);
  d.removeWorker(a);
  const answers = new Map<number, PredictResult>();
  for (let i = 0; i < 3; i++) d.submit(job(i, answers));
  assert.equal(a.held.length, 0);
  assert.ok(b.held.length >= 1);
});

/** A worker that can die: it stops accepting, then refuses what it held, as python.ts does. */
class MortalWorker extends HeldWorker {
  send(job: PredictJob) {
    if (this.accepting) return super.send(job);
    job.done({ status: 503, kind: BodyKind.Json, body: Buffer.from('{"error":"worker exited"}') });
  }
  die() {
    this.accepting = false;
    for (const held of this.held.splice(0)) {
      held.done({ status: 503, kind: BodyKind.Json, body: Buffer.from('{"error":"worker exited"}') });
    }
  }
}

test('a worker that dies fails only the jobs it held; the queue goes to the live worker', () => {
  const d = new Dispatcher({ threadsPerWorker: 1, maxConcurrency: 100 });
  const [a, b] = [new MortalWorker(0), new MortalWorker(1)];
  d.addWorker(a);
  d.addWorker(b);
  const answers = new Map<number, PredictResult>();
  for (let i = 0; i < 64; i++) d.submit(job(i, answers));
  assert.equal(a.held.length + b.held.length, 2);
  a.die();
  d.removeWorker(a); // the pool does this after the worker's exit listeners run
  assert.equal([...answers.values()].filter((r) => r.status === 503).length, 1, 'only the job a held');
  while (b.held.length > 0) b.answerAll();
  assert.equal(answers.size, 64);
  assert.equal([...answers.values()].filter((r) => r.status === 200).length, 63);
  assert.equal(d.inFlight, 0);
});

test('timeout: a queued job is answered 504 and never sent; a held one 504s and its worker is replaced', async () => {
  const stuck: PredictorWorker[] = [];
  const d = new Dispatcher({ threadsPerWorker: 1, maxConcurrency: 100, timeoutMs: 40, onStuck: (w) => stuck.push(w) });
  const [a, b] = [new HeldWorker(0), new HeldWorker(1)];
  d.addWorker(a);
  const answers = new Map<number, PredictResult>();
  d.submit(job(1, answers)); // held by a, hangs
  d.submit(job(2, answers)); // queued behind it
  assert.equal(d.usableSlots, 1);
  await sleep(60);
  assert.equal(answers.get(1)?.status, 504);
  assert.equal(answers.get(2)?.status, 504);
  assert.match(answers.get(1)!.body.toString(), /did not finish within 0\.04 s \(cortex serve --predict-timeout\)/);
  assert.match(answers.get(2)!.body.toString(), /waited 0\.04 s for a free worker/);
  assert.deepEqual(stuck, [a], 'a holds only timed-out jobs: replace it');
  assert.equal(d.usableSlots, 0, 'no usable slot: /readyz fails');
  assert.equal(d.inFlight, 0, 'timed-out jobs no longer count in flight');
  d.submit(job(3, answers));
  assert.equal(a.held.length, 1, 'a stuck worker gets nothing more');
  d.addWorker(b);
  assert.deepEqual(
    b.held.map((j) => j.id),
    [3],
    'job 2 was dropped, never sent',
  );
  a.answerAll(); // the hung predict's late answer is dropped
  assert.equal(answers.get(1)?.status, 504);
  b.answerAll();
  assert.equal(answers.get(3)?.status, 200);
});

test('a stuck worker is replaced only once its other jobs finished', async () => {
  const stuck: PredictorWorker[] = [];
  const d = new Dispatcher({ threadsPerWorker: 2, maxConcurrency: 100, timeoutMs: 40, onStuck: (w) => stuck.push(w) });
  const w = new HeldWorker(0);
  d.addWorker(w);
  const answers = new Map<number, PredictResult>();
  d.submit(job(1, answers));
  await sleep(20);
  d.submit(job(2, answers));
  await sleep(30); // job 1 timed out, job 2 is still running
  assert.equal(answers.get(1)?.status, 504);
  assert.deepEqual(stuck, []);
  const second = w.held.find((j) => j.id === 2)!;
  second.done(ok(2));
  assert.equal(answers.get(2)?.status, 200);
  assert.deepEqual(stuck, [w]);
});

test('cancel: a queued job whose client went away is dropped and never runs', () => {
  const d = new Dispatcher({ threadsPerWorker: 1, maxConcurrency: 100 });
  const w = new HeldWorker(0);
  d.addWorker(w);
  const answers = new Map<number, PredictResult>();
  const jobs = [1, 2, 3].map((id) => job(id, answers));
  for (const j of jobs) d.submit(j);
  assert.equal(d.cancel(jobs[0]), false, 'already at the worker: it stays counted until answered');
  assert.equal(d.cancel(jobs[1]), true);
  assert.equal(d.inFlight, 2);
  assert.equal(d.queueLength, 1);
  w.answerAll();
  w.answerAll();
  assert.deepEqual(
    w.sent.map((j) => j.id),
    [1, 3],
  );
  assert.equal(answers.has(2), false);
  assert.equal(d.inFlight, 0);
});
