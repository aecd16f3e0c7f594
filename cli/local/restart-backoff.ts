// When a serving replica that crashed starts again: 0.5 s after its first crash, twice as long
// after each further one in a row (30 s at most), from scratch once it has served a minute. Its
// own file because it keeps its own state (each replica's failures and pending restart) and
// api-runner.ts needs only schedule and cancel.
import type { ReplicaProcess } from './replica.ts';

const BACKOFF_START_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const BACKOFF_RESET_AFTER_MS = 60_000;

export class RestartBackoff {
  private readonly failures = new Map<ReplicaProcess, number>();
  private readonly timers = new Map<ReplicaProcess, NodeJS.Timeout>();

  /** Calls `restart` once the replica has waited its turn, waiting longer after each failure in a row. */
  schedule(replica: ReplicaProcess, restart: () => void): void {
    const servedLong = replica.readyAt !== undefined && Date.now() - replica.readyAt.getTime() > BACKOFF_RESET_AFTER_MS;
    const failures = servedLong ? 0 : (this.failures.get(replica) ?? 0);
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** failures);
    this.failures.set(replica, failures + 1);
    this.timers.set(
      replica,
      setTimeout(() => {
        this.timers.delete(replica);
        restart();
      }, delay),
    );
  }

  /** Forgets the replica: no restart pending, no failures counted. */
  cancel(replica: ReplicaProcess): void {
    const timer = this.timers.get(replica);
    if (timer) clearTimeout(timer);
    this.timers.delete(replica);
    this.failures.delete(replica);
  }
}
