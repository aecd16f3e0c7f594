// Admission, queueing and least-loaded dispatch of prediction jobs to workers.
//
// - Admission: at most `maxConcurrency` jobs (queued + at workers + waiting in a forming
//   batch); beyond that submit() returns false and the front answers 503 at once.
// - Dispatch: to the worker with the fewest outstanding units (a unit is a job, or a batch
//   when batching), so a request never waits while a worker is idle (Cortex issue #839).
// - Pipelining: a worker is given more than `threads` units only when its predictor is fast:
//   about two milliseconds of estimated work at most, so the pipe round trip is amortised
//   for trivial predictors while slow ones are fed strictly on demand and a queued request
//   is never stuck behind a busy worker for long.
import { performance } from 'node:perf_hooks';
import { Deque } from './deque.ts';
import type { PredictJob, PredictorWorker, PredictResult } from './workers/types.ts';

export interface BatchingOptions {
  maxBatchSize: number;
  intervalMs: number;
}

export interface DispatcherOptions {
  /** Concurrent units each worker runs (threads_per_process). */
  threadsPerWorker: number;
  /** max_replica_concurrency: admitted jobs beyond this are refused. */
  maxConcurrency: number;
  batching?: BatchingOptions;
  /** Called with the size of every batch sent to a worker. */
  onBatch?: (size: number) => void;
}

type Unit = PredictJob | PredictJob[];

interface WorkerState {
  worker: PredictorWorker;
  units: number;
  /** Exponentially weighted service time per unit, ms. */
  serviceMs: number;
  lastDone: number;
  alive: boolean;
}

const pipelineBudgetMs = 2;
const maxPipelineDepth = 64;

export class Dispatcher {
  private readonly options: DispatcherOptions;
  private readonly states: WorkerState[] = [];
  private readonly queue = new Deque<Unit>();
  private admitted = 0;
  private forming: PredictJob[] = [];
  private formingTimer: NodeJS.Timeout | undefined;

  constructor(options: DispatcherOptions) {
    this.options = options;
  }

  /** Jobs admitted and not yet answered: the autoscaling signal. */
  get inFlight(): number {
    return this.admitted;
  }

  /** Jobs waiting for a worker (including a batch still forming). */
  get queueLength(): number {
    let n = this.forming.length;
    for (const unit of this.queue) n += Array.isArray(unit) ? unit.length : 1;
    return n;
  }

  get workerCount(): number {
    return this.states.length;
  }

  addWorker(worker: PredictorWorker): void {
    // Unknown predictors start as slow ones: no pipelining until completions show otherwise.
    this.states.push({ worker, units: 0, serviceMs: 10, lastDone: 0, alive: true });
    this.pump();
  }

  removeWorker(worker: PredictorWorker): void {
    const i = this.states.findIndex((s) => s.worker === worker);
    if (i < 0) return;
    this.states[i].alive = false;
    this.states.splice(i, 1);
  }

  /** Returns false when the replica is at max concurrency (the caller answers 503). */
  submit(job: PredictJob): boolean {
    if (this.admitted >= this.options.maxConcurrency) return false;
    this.admitted++;
    const batching = this.options.batching;
    if (batching === undefined) {
      this.enqueue(job);
      return true;
    }
    this.forming.push(job);
    if (this.forming.length >= batching.maxBatchSize) {
      this.sealBatch();
    } else if (this.forming.length === 1) {
      this.formingTimer = setTimeout(() => this.sealBatch(), batching.intervalMs);
    }
    return true;
  }

  /** Answer every job that has not reached a worker (used when shutting down for good). */
  failPending(result: PredictResult): void {
    clearTimeout(this.formingTimer);
    const pending = [...this.forming];
    this.forming = [];
    for (const unit of this.queue) {
      if (Array.isArray(unit)) pending.push(...unit);
      else pending.push(unit);
    }
    this.queue.clear();
    for (const job of pending) {
      this.admitted--;
      job.done(result);
    }
  }

  private sealBatch(): void {
    clearTimeout(this.formingTimer);
    this.formingTimer = undefined;
    if (this.forming.length === 0) return;
    const batch = this.forming;
    this.forming = [];
    this.enqueue(batch);
  }

  private enqueue(unit: Unit): void {
    if (this.queue.length === 0) {
      const state = this.pick();
      if (state !== undefined) {
        this.send(state, unit);
        return;
      }
    }
    this.queue.push(unit);
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const state = this.pick();
      if (state === undefined) break;
      this.send(state, this.queue.shift()!);
    }
  }

  /** The least-loaded worker that may take another unit, if any. */
  private pick(): WorkerState | undefined {
    let best: WorkerState | undefined;
    for (const state of this.states) {
      if (best === undefined || state.units < best.units) best = state;
    }
    if (best === undefined || best.units >= this.capacity(best)) return undefined;
    return best;
  }

  private capacity(state: WorkerState): number {
    const threads = this.options.threadsPerWorker;
    if (this.options.batching !== undefined) return threads;
    const extra = Math.min(maxPipelineDepth, Math.floor(pipelineBudgetMs / Math.max(state.serviceMs, 0.001)));
    return threads + extra * threads;
  }

  private send(state: WorkerState, unit: Unit): void {
    state.units++;
    const sentAt = performance.now();
    const finished = () => {
      const now = performance.now();
      const service = now - Math.max(sentAt, state.lastDone);
      state.serviceMs = state.serviceMs * 0.8 + service * 0.2;
      state.lastDone = now;
      state.units--;
    };
    if (Array.isArray(unit)) {
      let left = unit.length;
      for (const job of unit) {
        const respond = job.done;
        job.done = (result) => {
          this.admitted--;
          if (--left === 0) finished();
          respond(result);
          this.pump();
        };
      }
      this.options.onBatch?.(unit.length);
      state.worker.sendBatch(unit);
      return;
    }
    const respond = unit.done;
    unit.done = (result) => {
      this.admitted--;
      finished();
      respond(result);
      this.pump();
    };
    state.worker.send(unit);
  }
}
