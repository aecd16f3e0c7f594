// Admission, queueing and least-loaded dispatch of prediction jobs to workers.
//
// - Admission: at most `maxConcurrency` jobs (queued + at workers + waiting in a forming
//   batch); beyond that submit() returns false and the front answers 503 at once.
// - Dispatch: to the worker with the fewest outstanding units (a unit is a job, or a batch
//   when batching), so a request never waits while a worker is idle (Cortex issue #839).
//   Only workers that accept work get any: a worker that died (or is being replaced) is
//   skipped, so its death fails only the jobs it held, never the queue.
// - Pipelining: a worker is given more than `threads` units only when its predictor is fast:
//   about two milliseconds of estimated work at most, so the pipe round trip is amortised
//   for trivial predictors while slow ones are fed strictly on demand and a queued request
//   is never stuck behind a busy worker for long.
// - Timeout (`timeoutMs`, from admission): the job is answered 504. A queued one is dropped
//   and never runs. One a worker holds cannot be taken back (a Python thread cannot be
//   killed): that worker gets no more work, and once it holds nothing but timed-out jobs
//   `onStuck` is called so the pool replaces it.
// - cancel(): a client that went away; a job still queued is dropped and never runs.
// - Streams (docs/streaming.md): an answer with a `stream` is passed on at its first chunk, but
//   the job stays in flight and holds its worker's unit until the stream ends, so autoscaling
//   sees it and a worker is never given more streams than its threads. The timeout is the
//   deadline to the first chunk; a stream that started runs as long as it produces. A worker
//   with a stream open gets no pipelined units.
import { performance } from 'node:perf_hooks';
import { Deque } from './deque.ts';
import { BodyKind, type PredictJob, type PredictorWorker, type PredictResult } from './workers/types.ts';

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
  /** A job not answered this long after admission is answered 504; 0 or absent: no limit. */
  timeoutMs?: number;
  /** A worker holds only jobs past the timeout: it gets no more work and should be replaced. */
  onStuck?: (worker: PredictorWorker) => void;
  /** Jobs (one, or a batch) handed to a worker: traces end their queue span here (runtime/observer.ts). */
  onSend?: (jobs: PredictJob[]) => void;
}

type Where = 'queued' | 'sent' | 'streaming' | 'settled';

interface Ticket {
  /** Dropped once settled: a ticket may wait in `deadlines` behind a slow one, its body need not. */
  job: PredictJob | undefined;
  respond: (result: PredictResult) => void;
  where: Where;
  /** performance.now() past which it is answered 504 (Infinity: no limit). */
  deadline: number;
  unit: Unit | undefined;
}

interface Unit {
  tickets: Ticket[];
  /** Tickets the worker has not answered yet. */
  left: number;
  /** One of its jobs passed the timeout while the worker held it. */
  expired: boolean;
  state: WorkerState | undefined;
  sentAt: number;
}

interface WorkerState {
  worker: PredictorWorker;
  units: number;
  /** Units held past the timeout. */
  expiredUnits: number;
  /** Gets no more work: it holds a job past the timeout. */
  stuck: boolean;
  /** Streams it is producing (started, not ended). */
  streams: number;
  replacing: boolean;
  /** Exponentially weighted service time per unit, ms. */
  serviceMs: number;
  lastDone: number;
}

const pipelineBudgetMs = 2;
const maxPipelineDepth = 64;

export class Dispatcher {
  private readonly options: DispatcherOptions;
  private readonly states: WorkerState[] = [];
  private handlerVerbs: ReadonlySet<string> | undefined;
  private readonly queue = new Deque<Unit>();
  /**
   * Unsettled tickets in admission order, hence in deadline order (one timeout for all): one
   * timer for the oldest instead of a timer per request.
   */
  private readonly deadlines = new Deque<Ticket>();
  private deadlineTimer: NodeJS.Timeout | undefined;
  private admitted = 0;
  private waiting = 0;
  private forming: Ticket[] = [];
  private formingTimer: NodeJS.Timeout | undefined;
  private readonly onSend: ((jobs: PredictJob[]) => void) | undefined;

  constructor(options: DispatcherOptions) {
    this.options = options;
    this.onSend = options.onSend;
  }

  /** Jobs admitted and not yet answered: the autoscaling signal. */
  get inFlight(): number {
    return this.admitted;
  }

  /** Jobs waiting for a worker (including a batch still forming). */
  get queueLength(): number {
    return this.waiting;
  }

  /** The workers added and not removed (WebSockets pick theirs among them: websocket/front.ts). */
  get workers(): PredictorWorker[] {
    return this.states.map((s) => s.worker);
  }

  /** max_replica_concurrency (also the limit on open WebSockets). */
  get maxConcurrency(): number {
    return this.options.maxConcurrency;
  }

  get workerCount(): number {
    return this.states.length;
  }

  /** Predict slots that can take work now: threads of live workers not stuck in a timed-out predict. */
  get usableSlots(): number {
    let n = 0;
    for (const state of this.states) if (this.usable(state)) n += this.options.threadsPerWorker;
    return n;
  }

  /** A Python Handler's HTTP methods, from the first ready worker that has them (every worker runs the same class). */
  get verbs(): ReadonlySet<string> | undefined {
    return this.handlerVerbs;
  }

  addWorker(worker: PredictorWorker): void {
    this.handlerVerbs ??= worker.verbs;
    // Unknown predictors start as slow ones: no pipelining until completions show otherwise.
    this.states.push({
      worker,
      units: 0,
      expiredUnits: 0,
      stuck: false,
      streams: 0,
      replacing: false,
      serviceMs: 10,
      lastDone: 0,
    });
    this.pump();
  }

  removeWorker(worker: PredictorWorker): void {
    const i = this.states.findIndex((s) => s.worker === worker);
    if (i < 0) return;
    this.states.splice(i, 1);
  }

  /** Returns false when the replica is at max concurrency (the caller answers 503). */
  submit(job: PredictJob): boolean {
    if (this.admitted >= this.options.maxConcurrency) return false;
    this.admitted++;
    this.waiting++;
    const timeoutMs = this.options.timeoutMs ?? 0;
    const deadline = timeoutMs > 0 ? performance.now() + timeoutMs : Infinity;
    const ticket: Ticket = { job, respond: job.done, where: 'queued', deadline, unit: undefined };
    job.ticket = ticket;
    job.done = (result) => this.answered(ticket, result);
    if (timeoutMs > 0) {
      this.deadlines.push(ticket);
      if (this.deadlineTimer === undefined) this.armDeadline();
    }
    const batching = this.options.batching;
    if (batching === undefined) {
      this.enqueue({ tickets: [ticket], left: 1, expired: false, state: undefined, sentAt: 0 });
      return true;
    }
    this.forming.push(ticket);
    if (this.forming.length >= batching.maxBatchSize) {
      this.sealBatch();
    } else if (this.forming.length === 1) {
      this.formingTimer = setTimeout(() => this.sealBatch(), batching.intervalMs);
    }
    return true;
  }

  /**
   * The client went away. A job still waiting for a worker is dropped (it never runs, and no
   * longer counts in flight); returns whether it was. A job a worker holds stays counted
   * until the worker answers it or it times out.
   */
  cancel(job: PredictJob): boolean {
    const ticket = job.ticket as Ticket | undefined;
    if (ticket === undefined || ticket.where !== 'queued') return false;
    this.waiting--;
    this.settle(ticket);
    return true;
  }

  /** Answer every job that has not reached a worker (used when shutting down for good). */
  failPending(result: PredictResult): void {
    clearTimeout(this.formingTimer);
    const pending = this.forming;
    this.forming = [];
    for (const unit of this.queue) pending.push(...unit.tickets);
    this.queue.clear();
    for (const ticket of pending) {
      if (ticket.where !== 'queued') continue;
      this.waiting--;
      this.settle(ticket, result);
    }
  }

  /** Answers the client once; a job's later answer (after a timeout or a cancel) is dropped. */
  private settle(ticket: Ticket, result?: PredictResult): void {
    if (ticket.where === 'settled') return;
    const respond = ticket.respond;
    ticket.where = 'settled';
    ticket.job = undefined;
    ticket.respond = ignore;
    this.admitted--;
    this.forgetAnswered();
    if (result !== undefined) respond(result);
  }

  /** Answered in order (the common case): forget them now, not at their deadline. */
  private forgetAnswered(): void {
    const deadlines = this.deadlines;
    while (deadlines.length > 0 && answeredAlready(deadlines.peek()!)) deadlines.shift();
  }

  /** A worker answered (or, dying, refused) one job. */
  private answered(ticket: Ticket, result: PredictResult): void {
    if (result.stream !== undefined) return this.streamStarted(ticket, result);
    const unit = ticket.unit;
    this.settle(ticket, result);
    this.unitAnswered(unit);
  }

  /**
   * The first chunk of a streamed answer: the client gets it now; the job stays in flight and its
   * unit busy until the stream ends. A job that timed out meanwhile has its stream cancelled.
   */
  private streamStarted(ticket: Ticket, result: PredictResult): void {
    const stream = result.stream!;
    const unit = ticket.unit;
    const state = unit?.state;
    if (state !== undefined) state.streams++;
    if (ticket.where === 'settled') {
      stream.cancel();
    } else {
      const respond = ticket.respond;
      ticket.where = 'streaming';
      ticket.job = undefined;
      ticket.respond = ignore;
      this.forgetAnswered();
      respond(result);
    }
    stream.onFinish(() => {
      if (state !== undefined) state.streams--;
      if (ticket.where === 'streaming') {
        ticket.where = 'settled';
        this.admitted--;
      }
      this.unitAnswered(unit);
    });
  }

  private unitAnswered(unit: Unit | undefined): void {
    if (unit === undefined || --unit.left > 0) return this.pump();
    const state = unit.state;
    if (state !== undefined) {
      const now = performance.now();
      state.units--;
      if (unit.expired) {
        state.expiredUnits--;
        if (state.expiredUnits === 0) state.stuck = false; // slow, not hung: it finished after all
      } else {
        const service = now - Math.max(unit.sentAt, state.lastDone);
        state.serviceMs = state.serviceMs * 0.8 + Math.min(service, 60_000) * 0.2;
      }
      state.lastDone = now;
      this.checkStuck(state);
    }
    this.pump();
  }

  private armDeadline(): void {
    let head = this.deadlines.peek();
    while (head !== undefined && answeredAlready(head)) {
      this.deadlines.shift();
      head = this.deadlines.peek();
    }
    if (head === undefined) return;
    this.deadlineTimer = setTimeout(this.expireDue, Math.max(1, head.deadline - performance.now())).unref();
  }

  private readonly expireDue = (): void => {
    this.deadlineTimer = undefined;
    const now = performance.now();
    for (let head = this.deadlines.peek(); head !== undefined; head = this.deadlines.peek()) {
      if (!answeredAlready(head) && head.deadline > now) break;
      this.deadlines.shift();
      this.expire(head);
    }
    this.armDeadline();
    this.pump();
  };

  private expire(ticket: Ticket): void {
    if (answeredAlready(ticket)) return;
    const seconds = (this.options.timeoutMs ?? 0) / 1000;
    if (ticket.where === 'queued') {
      this.waiting--;
      this.settle(ticket, timedOut(`the request waited ${seconds} s for a free worker`));
      return;
    }
    this.settle(ticket, timedOut(`the prediction did not finish within ${seconds} s`));
    const unit = ticket.unit!;
    const state = unit.state;
    if (unit.expired || state === undefined) return;
    unit.expired = true;
    state.expiredUnits++;
    state.stuck = true;
    this.checkStuck(state);
  }

  private checkStuck(state: WorkerState): void {
    if (!state.stuck || state.replacing || state.units > state.expiredUnits) return;
    if (!this.states.includes(state)) return;
    state.replacing = true;
    this.options.onStuck?.(state.worker);
  }

  private sealBatch(): void {
    clearTimeout(this.formingTimer);
    this.formingTimer = undefined;
    const tickets = this.forming.filter((t) => t.where === 'queued');
    this.forming = [];
    if (tickets.length === 0) return;
    this.enqueue({ tickets, left: tickets.length, expired: false, state: undefined, sentAt: 0 });
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
      const head = this.queue.peek()!;
      if (!allQueued(head.tickets)) {
        head.tickets = head.tickets.filter((t) => t.where === 'queued'); // drop the cancelled and timed out
        head.left = head.tickets.length;
      }
      if (head.left === 0) {
        this.queue.shift();
        continue;
      }
      const state = this.pick();
      if (state === undefined) break;
      this.queue.shift();
      this.send(state, head);
    }
  }

  private usable(state: WorkerState): boolean {
    return !state.stuck && state.worker.accepting;
  }

  /** The least-loaded usable worker that may take another unit, if any. */
  private pick(): WorkerState | undefined {
    let best: WorkerState | undefined;
    for (const state of this.states) {
      if (!this.usable(state)) continue;
      if (best === undefined || state.units < best.units) best = state;
    }
    if (best === undefined || best.units >= this.capacity(best)) return undefined;
    return best;
  }

  private capacity(state: WorkerState): number {
    const threads = this.options.threadsPerWorker;
    if (this.options.batching !== undefined || state.streams > 0) return threads;
    const extra = Math.min(maxPipelineDepth, Math.floor(pipelineBudgetMs / Math.max(state.serviceMs, 0.001)));
    return threads + extra * threads;
  }

  private send(state: WorkerState, unit: Unit): void {
    state.units++;
    unit.state = state;
    unit.sentAt = performance.now();
    for (const ticket of unit.tickets) {
      ticket.where = 'sent';
      ticket.unit = unit;
    }
    this.waiting -= unit.tickets.length;
    if (this.onSend !== undefined) this.onSend(unit.tickets.map((t) => t.job!));
    if (this.options.batching !== undefined) {
      this.options.onBatch?.(unit.tickets.length);
      state.worker.sendBatch(unit.tickets.map((t) => t.job!));
      return;
    }
    state.worker.send(unit.tickets[0].job!);
  }
}

const ignore = (): void => {};

/** Settled, or its stream started: the timeout no longer applies. */
function answeredAlready(ticket: Ticket): boolean {
  return ticket.where === 'settled' || ticket.where === 'streaming';
}

function allQueued(tickets: Ticket[]): boolean {
  for (const t of tickets) if (t.where !== 'queued') return false;
  return true;
}

function timedOut(what: string): PredictResult {
  return {
    status: 504,
    kind: BodyKind.Json,
    body: Buffer.from(JSON.stringify({ error: `${what} (cortex serve --predict-timeout)` })),
  };
}
