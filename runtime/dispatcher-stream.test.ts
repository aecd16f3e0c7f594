// Dispatcher and streamed answers: a stream is passed on at its first chunk but stays in flight,
// holding its worker's slot, until it ends; the timeout is to the first chunk; a stream that
// starts after its request timed out is cancelled.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { Dispatcher } from './dispatcher.ts';
import { WorkerStream } from './streaming/worker-stream.ts';
import { BodyKind, type PredictJob, type PredictResult, type PredictorWorker } from './workers/types.ts';

class HeldWorker implements PredictorWorker {
  readonly index = 0;
  readonly pid = undefined;
  accepting = true;
  readonly held: PredictJob[] = [];
  get inFlight() {
    return this.held.length;
  }
  async start() {}
  send(job: PredictJob) {
    this.held.push(job);
  }
  sendBatch(jobs: PredictJob[]) {
    this.held.push(...jobs);
  }
  async shutdown() {}
  onExit() {}
}

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

function startStream(j: PredictJob): { stream: WorkerStream; cancelled: () => boolean } {
  let cancelled = false;
  const stream = new WorkerStream({ credit: () => {}, cancel: () => (cancelled = true) });
  j.done({ status: 200, kind: BodyKind.Text, body: Buffer.alloc(0), stream });
  return { stream, cancelled: () => cancelled };
}

test('a stream is answered at its start, stays in flight and holds the slot until it ends', async () => {
  const d = new Dispatcher({ threadsPerWorker: 1, maxConcurrency: 10 });
  const w = new HeldWorker();
  d.addWorker(w);
  const answers = new Map<number, PredictResult>();
  d.submit(job(1, answers));
  d.submit(job(2, answers));
  assert.equal(w.held.length, 1, 'one thread: the second waits');
  const { stream } = startStream(w.held.shift()!);
  assert.ok(answers.get(1)?.stream, 'the client has the stream');
  assert.equal(d.inFlight, 2, 'the stream is still in flight');
  assert.equal(w.held.length, 0, 'its slot is still busy: the queued job waits');
  stream.finish();
  await sleep(0);
  assert.equal(d.inFlight, 1);
  assert.equal(w.held.length, 1, 'the slot is free: the queued job was sent');
});

test('the timeout is to the first chunk: a started stream outlives it, a late one is cancelled', async () => {
  const d = new Dispatcher({ threadsPerWorker: 2, maxConcurrency: 10, timeoutMs: 50 });
  const w = new HeldWorker();
  d.addWorker(w);
  const answers = new Map<number, PredictResult>();
  d.submit(job(1, answers));
  d.submit(job(2, answers));
  const [early, late] = w.held.splice(0);
  const started = startStream(early);
  await sleep(120);
  assert.equal(answers.get(1)?.status, 200, 'not 504: it started in time');
  assert.equal(answers.get(2)?.status, 504);
  const tooLate = startStream(late);
  assert.equal(tooLate.cancelled(), true, 'a stream starting after its 504 is cancelled');
  assert.equal(started.cancelled(), false);
  started.stream.finish();
  tooLate.stream.finish({ error: 'cancelled' });
  await sleep(0);
  assert.equal(d.inFlight, 0);
});
