// The operator's manager (controller-runtime's pkg/manager, small: runnable_group.go and the
// leader election around it). main.ts adds every long-running part as a Runnable; the manager
// - starts the always-on ones (caches first: added first, each waited for until ready), then
//   campaigns for the leader Lease and starts the leader-only ones once elected;
// - on stop() (SIGTERM) aborts them in reverse, each with its own AbortController: the
//   leader-only ones first (their reconciles in flight abort), then releases the Lease so a
//   standby takes over at once, then the always-on ones; gives up after the grace period;
// - on a lost Lease stops the leader-only ones and nothing else (the metrics API, the activator
//   and their caches keep serving), then tells its owner (main.ts exits 1, as controller-runtime);
// - a runnable that fails stops everything.

import type { Logger } from '../util/log.ts';
import { untilAborted, type Runnable } from './runnable.ts';

export { startStop, untilAborted, type Runnable, type StartStop } from './runnable.ts';

/** Leader election as the manager uses it (controller/leader.ts's LeaderElector). */
export interface Elector {
  /** Campaigns until elected (true) or released (false); onStoppedLeading: the Lease was lost afterwards. */
  run(onStoppedLeading: (why: string) => void): Promise<boolean>;
  /** Stops campaigning; gives the Lease up if held. */
  release(): Promise<void>;
}

export interface ManagerOptions {
  log: Logger;
  /** Leader election; none: the leader-only runnables start at once (--no-leader-elect). */
  elector?: Elector;
  /** How long stop() waits for the runnables to stop. Default 10 s. */
  gracePeriodMs?: number;
  /** Told when this replica starts and stops leading (the leader gauge). */
  onLeading?(leading: boolean): void;
  /** The Lease was lost; the leader-only runnables have stopped. */
  onLostLeadership?(why: string): void;
  /** A runnable failed (rejected before it was told to stop); the manager is stopping. */
  onFailure?(name: string, error: unknown): void;
}

interface Running {
  runnable: Runnable;
  stopper: AbortController;
  /** Settles (never rejects) once the runnable has stopped. */
  done: Promise<void>;
  finished: boolean;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class Manager {
  private readonly options: ManagerOptions;
  private readonly runnables: Runnable[] = [];
  /** Started runnables, by group, in start order. */
  private readonly running = { always: [] as Running[], leader: [] as Running[] };
  /** The one switch: aborted by stop(); the start sequence checks it between steps. */
  private readonly stopper = new AbortController();
  private stopped: Promise<boolean> | undefined;
  private leadingFlag = false;

  constructor(options: ManagerOptions) {
    this.options = options;
  }

  /** Adds a runnable; always-on and leader-only ones each start in the order added. */
  add(runnable: Runnable): this {
    this.runnables.push(runnable);
    return this;
  }

  /** Whether this replica leads now (always, after start, without an elector). */
  get leading(): boolean {
    return this.leadingFlag;
  }

  /**
   * Starts the always-on runnables, then campaigns and starts the leader-only ones. Resolves
   * once they are started, or when stop() ended the campaign.
   */
  async start(): Promise<void> {
    const signal = this.stopper.signal;
    for (const r of this.runnables.filter((r) => !r.needsLeader)) {
      if (signal.aborted) return;
      await this.launch(r, this.running.always);
    }
    if (signal.aborted) return;
    const { elector } = this.options;
    if (elector && !(await elector.run((why) => void this.lostLeadership(why)))) return;
    if (signal.aborted) return;
    this.setLeading(true);
    for (const r of this.runnables.filter((r) => r.needsLeader)) {
      if (signal.aborted || !this.leadingFlag) return;
      await this.launch(r, this.running.leader);
    }
  }

  /**
   * Stops everything in reverse: the leader-only runnables, the Lease, the always-on ones.
   * Resolves true once all have stopped, false when the grace period ran out first.
   */
  stop(): Promise<boolean> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<boolean> {
    this.stopper.abort();
    const sequence = (async () => {
      await this.stopGroup(this.running.leader);
      this.setLeading(false);
      await this.options.elector?.release();
      await this.stopGroup(this.running.always);
    })();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.options.gracePeriodMs ?? 10_000);
    });
    const clean = await Promise.race([sequence.then(() => true as const), grace]);
    clearTimeout(timer);
    if (!clean) {
      const left = [...this.running.leader, ...this.running.always].filter((r) => !r.finished);
      this.options.log.warn('stop: the grace period ran out', { stillRunning: left.map((r) => r.runnable.name) });
    }
    return clean;
  }

  /** Starts one runnable and waits until it is ready (or stops, or the manager stops). */
  private async launch(runnable: Runnable, group: Running[]): Promise<void> {
    const { log } = this.options;
    const stopper = new AbortController();
    log.debug('starting', { runnable: runnable.name });
    const done = runnable.start(stopper.signal).then(
      () => {
        if (!stopper.signal.aborted) log.info('finished', { runnable: runnable.name });
      },
      (error: unknown) => {
        if (stopper.signal.aborted)
          return log.warn('stopped with an error', { runnable: runnable.name, error: message(error) });
        log.error('failed', { runnable: runnable.name, error: message(error) });
        this.options.onFailure?.(runnable.name, error);
        void this.stop();
      },
    );
    const entry: Running = { runnable, stopper, done, finished: false };
    group.push(entry);
    void done.then(() => (entry.finished = true));
    if (runnable.ready) {
      const ready = runnable.ready().catch(() => undefined); // a failed start fails `done` as well
      await Promise.race([ready, done, untilAborted(this.stopper.signal)]);
    }
  }

  /** Aborts a group's runnables one by one, last started first, each waited for. */
  private async stopGroup(group: Running[]): Promise<void> {
    for (const r of [...group].reverse()) {
      this.options.log.debug('stopping', { runnable: r.runnable.name });
      r.stopper.abort();
      await r.done;
    }
  }

  private async lostLeadership(why: string): Promise<void> {
    if (!this.leadingFlag || this.stopper.signal.aborted) return;
    this.setLeading(false);
    await this.stopGroup(this.running.leader);
    this.options.onLostLeadership?.(why);
  }

  private setLeading(leading: boolean): void {
    if (this.leadingFlag === leading) return;
    this.leadingFlag = leading;
    this.options.onLeading?.(leading);
  }
}
