// Removes the snapshot folders ($CORTEX_HOME/snapshots/<hash>) no version uses any more, except
// those a deploy named recently (held), retried once the hold ends. Its own file because it keeps
// its own state (the snapshots it knows of, the holds, a retry timer); the supervisor only tells
// it of snapshots and when a version stopped being used.
import { rmSync } from 'node:fs';
import { isInside } from './paths.ts';

export class SnapshotCollector {
  /** $CORTEX_HOME/snapshots: nothing outside it is ever removed. */
  private readonly dir: string;
  /** The snapshot folders every version in use names (asked at each collection). */
  private readonly used: () => Set<string>;
  private readonly known = new Set<string>();
  /** Snapshots a deploy named recently: kept until then (ms), used or not. */
  private readonly held = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(dir: string, used: () => Set<string>) {
    this.dir = dir;
    this.used = used;
  }

  /** A snapshot a version may use: removed once none does. */
  know(snapshot: string): void {
    this.known.add(snapshot);
  }

  /** Keeps `snapshot` for `ms` from now, used or not. */
  hold(snapshot: string, ms: number): void {
    this.held.set(snapshot, Date.now() + ms);
  }

  /** Ends every hold (no deploy can follow). */
  releaseHolds(): void {
    this.held.clear();
  }

  /** Removes snapshots no version uses any more. */
  collect(): void {
    const used = this.used();
    const now = Date.now();
    let retry = Infinity;
    for (const dir of this.known) {
      if (used.has(dir)) continue;
      const held = this.held.get(dir) ?? 0;
      if (held > now) {
        retry = Math.min(retry, held - now);
        continue;
      }
      this.held.delete(dir);
      // Never anything outside $CORTEX_HOME/snapshots, whatever a request or state.json said.
      if (isInside(this.dir, dir)) rmSync(dir, { recursive: true, force: true });
      this.known.delete(dir);
    }
    if (retry !== Infinity && this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.collect();
      }, retry + 10);
      this.timer.unref();
    }
  }
}
