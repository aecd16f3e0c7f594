// Keeps `size` predictor workers alive: starts them, hands ready ones to the dispatcher,
// restarts one that dies with exponential backoff, and reports a failed init as fatal
// (the replica then exits non-zero, as Cortex's did, so the orchestrator sees it). A worker
// stuck in a predict past the timeout is replaced: killed and started again at once.
import type { Dispatcher } from './dispatcher.ts';
import type { Logger } from '../operator/util/log.ts';
import { InitError, type PredictorWorker, type WorkerExit } from './workers/types.ts';

export interface PoolOptions {
  size: number;
  create(index: number): PredictorWorker;
  dispatcher: Dispatcher;
  logger: Logger;
  onRestart(): void;
  /** A worker failed to initialise; the pool stops restarting. */
  onFatal(error: InitError): void;
  /** First restart delay; doubles per consecutive crash up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

/** A worker that stays up this long resets its crash count. */
const stableAfterMs = 60_000;

export class WorkerPool {
  private readonly options: PoolOptions;
  private readonly current: (PredictorWorker | undefined)[];
  private readonly crashes: number[];
  private readonly ready: boolean[];
  /** Workers being replaced (stuck): their exit restarts them at once, not counted as a crash. */
  private readonly replacing = new Set<PredictorWorker>();
  private started = false;
  private stopping = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(options: PoolOptions) {
    this.options = options;
    this.current = new Array(options.size).fill(undefined);
    this.crashes = new Array(options.size).fill(0);
    this.ready = new Array(options.size).fill(false);
  }

  get readyCount(): number {
    return this.ready.filter(Boolean).length;
  }

  get allReady(): boolean {
    return this.readyCount === this.options.size;
  }

  /** Every worker finished its first initialisation (restarts since then do not matter). */
  get startedOnce(): boolean {
    return this.started;
  }

  pids(): (number | undefined)[] {
    return this.current.map((w) => w?.pid);
  }

  /** Starts every worker; resolves when all are ready, rejects with the first InitError. */
  async start(): Promise<void> {
    const starts = [];
    for (let i = 0; i < this.options.size; i++) starts.push(this.startWorker(i));
    await Promise.all(starts);
    this.started = true;
  }

  /**
   * Kills a worker stuck in a predict past the timeout (Python threads cannot be stopped, so
   * the process goes) and starts a new one at once. The dispatcher calls this only once the
   * worker holds nothing but timed-out jobs.
   */
  replace(worker: PredictorWorker, why: string): void {
    const index = this.current.indexOf(worker);
    if (index < 0 || this.stopping || this.replacing.has(worker)) return;
    this.replacing.add(worker);
    this.options.logger.error(`worker ${index} ${why}; replacing it`, { worker: index, pid: worker.pid });
    worker.shutdown(0).catch(() => undefined);
  }

  private async startWorker(index: number): Promise<void> {
    const worker = this.options.create(index);
    this.current[index] = worker;
    const startedAt = Date.now();
    worker.onExit((exit) => this.exited(index, worker, exit, startedAt));
    await worker.start();
    if (this.stopping || this.current[index] !== worker) return;
    this.ready[index] = true;
    this.options.dispatcher.addWorker(worker);
    this.options.logger.info(`worker ${index} ready`, { worker: index, pid: worker.pid });
  }

  private exited(index: number, worker: PredictorWorker, exit: WorkerExit, startedAt: number): void {
    if (this.current[index] !== worker) return;
    this.ready[index] = false;
    this.current[index] = undefined;
    this.options.dispatcher.removeWorker(worker);
    const replaced = this.replacing.delete(worker);
    if (this.stopping || exit.initError !== undefined) return; // init failures surface via start()
    if (Date.now() - startedAt > stableAfterMs) this.crashes[index] = 0;
    let delay = 0;
    if (!replaced) {
      delay = Math.min((this.options.backoffMs ?? 500) * 2 ** this.crashes[index], this.options.maxBackoffMs ?? 30_000);
      this.crashes[index]++;
      const how = exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
      this.options.logger.error(`worker ${index} exited (${how}); restarting in ${delay} ms`, {
        worker: index,
        restarts: this.crashes[index],
      });
    }
    this.options.onRestart();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.stopping) return;
      this.startWorker(index).catch((error: unknown) => {
        if (error instanceof InitError) this.options.onFatal(error);
        else this.options.logger.error(`worker ${index} failed to restart: ${String(error)}`);
      });
    }, delay);
    this.timers.add(timer);
  }

  /** Stops restarting and lets every worker finish its in-flight jobs (at most graceMs). */
  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearTimeout(timer);
    const workers = this.current.filter((w): w is PredictorWorker => w !== undefined);
    await Promise.all(workers.map((w) => w.shutdown(graceMs).catch(() => undefined)));
  }
}
