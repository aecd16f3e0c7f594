// What each phase of the operator benchmark is given: the client, a waiter poked by every watch
// event, watches that last the whole run, and the operator's RSS sampler.
import type { Kube, WatchEvent } from './kube.ts';
import type { Waiter } from './measure-util.ts';

export interface Phase {
  k: Kube;
  waiter: Waiter;
  /** Starts a watch of `path` kept until the run ends; a failed watch fails the run (check). */
  watch(path: string, onEvent: (e: WatchEvent) => void): Promise<void>;
  /** Throws the first watch failure, if any. */
  check(): void;
  failed(): boolean;
  say(s: string): void;
}

/** The operator's VmRSS every 100 ms: the peak over the run and over the scale phase. */
export class RssSampler {
  peakKB = 0;
  scalePeakKB = 0;
  private inScale = false;
  private readonly timer: NodeJS.Timeout;

  constructor(read: () => number | undefined) {
    this.timer = setInterval(() => {
      const kb = read();
      if (kb === undefined) return;
      if (kb > this.peakKB) this.peakKB = kb;
      if (this.inScale && kb > this.scalePeakKB) this.scalePeakKB = kb;
    }, 100);
    this.timer.unref();
  }

  startScale(nowKB: number): void {
    this.inScale = true;
    this.scalePeakKB = nowKB;
  }

  endScale(): void {
    this.inScale = false;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
