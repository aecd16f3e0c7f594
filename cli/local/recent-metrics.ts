// The supervisor's memory of each API's recent requests: every SAMPLE_MS (and when a CLI asks
// for the status) it scrapes the serving replicas' /metrics and keeps what each replica added
// since its previous scrape, for WINDOW_MS; `cortex get` shows the sum (cli/request-window.ts).
// A replica that restarts or is replaced starts from zero again, which increase() accounts for.
import { httpGet } from './http-util.ts';
import type { ApiStatus } from './protocol.ts';
import { countsOf } from '../request-window.ts';
import {
  increase,
  sum,
  summarize,
  type Counts,
  type RecentRequests,
} from '../../operator/metrics-adapter/request-stats.ts';

export const WINDOW_MS = 5 * 60_000;
export const SAMPLE_MS = 10_000;
/** A status request right after a scrape does not scrape again. */
const MIN_GAP_MS = 500;

interface Tick {
  at: number;
  added: Counts;
}

export class RecentMetrics {
  /** API → replica (id and port) → its last scrape. */
  private readonly last = new Map<string, Map<string, Counts>>();
  private readonly ticks = new Map<string, Tick[]>();
  private readonly since = new Map<string, number>();
  private lastSample = 0;
  private running: Promise<void> | undefined;

  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** Scrapes every API's serving replicas once (joins a scrape under way). */
  sample(apis: ApiStatus[]): Promise<void> {
    if (this.now() - this.lastSample < MIN_GAP_MS) return this.running ?? Promise.resolve();
    this.lastSample = this.now();
    this.running = Promise.all(apis.map((a) => this.sampleApi(a))).then(() => {
      const names = new Set(apis.map((a) => a.name));
      for (const map of [this.last, this.ticks, this.since])
        for (const k of map.keys()) if (!names.has(k)) map.delete(k);
    });
    return this.running;
  }

  private async sampleApi(api: ApiStatus): Promise<void> {
    const replicas = api.replicas.filter(
      (r) => r.port !== undefined && (r.state === 'ready' || r.state === 'stopping'),
    );
    const before = this.last.get(api.name) ?? new Map<string, Counts>();
    const now = new Map<string, Counts>();
    const added: Counts[] = [];
    // what the numbers cover starts at the first scrape, or earlier at the start of a replica counted whole
    let from = this.now();
    await Promise.all(
      replicas.map(async (r) => {
        const key = `${r.id}:${r.port}`;
        try {
          const { status, body } = await httpGet(r.port!, '/metrics', 1500);
          if (status !== 200) return;
          const counts = countsOf(body);
          now.set(key, counts);
          const previous = before.get(key);
          // first seen: all it answered counts if it started within the window, else it is the baseline
          const started = r.startedAt === undefined ? 0 : Date.parse(r.startedAt);
          if (previous !== undefined) added.push(increase(previous, counts));
          else if (started > this.now() - WINDOW_MS) {
            added.push(counts);
            from = Math.min(from, started);
          }
        } catch {
          // a replica going away: what it answered since its last scrape is lost with it
        }
      }),
    );
    this.last.set(api.name, now);
    const at = this.now();
    this.since.set(api.name, Math.min(this.since.get(api.name) ?? from, from));
    const ticks = (this.ticks.get(api.name) ?? []).filter((t) => t.at > at - WINDOW_MS);
    ticks.push({ at, added: sum(added) });
    this.ticks.set(api.name, ticks);
  }

  /** The API's requests over the window (or since the supervisor first saw it). */
  recent(api: string): RecentRequests | undefined {
    const ticks = this.ticks.get(api);
    const since = this.since.get(api);
    if (ticks === undefined || since === undefined) return undefined;
    const now = this.now();
    const live = ticks.filter((t) => t.at > now - WINDOW_MS);
    return summarize(sum(live.map((t) => t.added)), Math.min(WINDOW_MS, now - since) / 1000);
  }
}
