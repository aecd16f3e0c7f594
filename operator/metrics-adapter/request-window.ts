// Per API, the last REQUEST_WINDOW_MS (5 minutes) of its replicas' request counters
// (cortex_requests_total by status, cortex_request_duration_seconds' buckets) from the scrapes the
// adapter takes about once a second: what `cortex get API` shows about the last minutes on a
// cluster, served as object metrics of the RealtimeAPI (api.ts).
//
// Each pod keeps a snapshot of its cumulative counters about every SPACING_MS (the newest scrape
// replaces the last snapshot while they are closer), plus the newest one at or before the
// window's start as the baseline: at most ~62 small snapshots per pod. The window's figures are
// the increases between consecutive snapshots (a counter that went down restarted from 0),
// summed over the API's pods, including pods gone within the window (a scale-down must not
// erase the requests they served).

import { increase, sum, summarize, type Counts, type RecentRequests } from './request-stats.ts';

export const REQUEST_WINDOW_MS = 5 * 60_000;
const SPACING_MS = 5_000;

interface Snapshot {
  at: number;
  counts: Counts;
}

interface PodCounts {
  /** When the pod started (its status.startTime), if known: its first scrape counts from there. */
  startedAt?: number;
  snapshots: Snapshot[];
}

export interface WindowFigures {
  recent: RecentRequests;
  /** The newest scrape used (ms since the epoch). */
  timestamp: number;
}

const apiKey = (namespace: string, api: string) => `${namespace}/${api}`;

export class RequestWindows {
  private readonly apis = new Map<string, Map<string, PodCounts>>();
  readonly windowMs: number;

  constructor(windowMs = REQUEST_WINDOW_MS) {
    this.windowMs = windowMs;
  }

  /** A scrape of `pod` (serving `api`) taken at `at`; `startedAt`: the pod's start, when known. */
  record(namespace: string, api: string, pod: string, at: number, counts: Counts, startedAt?: number): void {
    let pods = this.apis.get(apiKey(namespace, api));
    if (pods === undefined) this.apis.set(apiKey(namespace, api), (pods = new Map()));
    let series = pods.get(pod);
    if (series === undefined) pods.set(pod, (series = { startedAt, snapshots: [] }));
    const s = series.snapshots;
    const last = s.at(-1);
    if (last !== undefined && at <= last.at) return;
    // replacing the last snapshot would hide a restart between it and this one: keep both then
    const restarted = last !== undefined && counts.requests < last.counts.requests;
    if (s.length >= 2 && at - s[s.length - 2].at < SPACING_MS && !restarted) s[s.length - 1] = { at, counts };
    else s.push({ at, counts });
    const from = at - this.windowMs;
    while (s.length > 1 && s[1].at <= from) s.shift();
    this.prune(pods, from);
  }

  /** The API was deleted. */
  forgetApi(namespace: string, api: string): void {
    this.apis.delete(apiKey(namespace, api));
  }

  /** Requests, 5xx share and p50/p99 over the window before `now`; undefined when no pod was scraped in it. */
  figures(namespace: string, api: string, now: number): WindowFigures | undefined {
    const pods = this.apis.get(apiKey(namespace, api));
    if (pods === undefined) return undefined;
    const from = now - this.windowMs;
    this.prune(pods, from);
    const parts: Counts[] = [];
    let earliest = now;
    let newest = 0;
    for (const series of pods.values()) {
      const snaps = series.snapshots.filter((s) => s.at <= now);
      if (snaps.length === 0 || snaps[snaps.length - 1].at < from) continue;
      // the baseline: the newest snapshot at or before the window's start; a pod first scraped
      // inside the window counts from zero if it started inside it too (else from its first scrape)
      let i = snaps.findLastIndex((s) => s.at <= from);
      let base: Counts | undefined;
      let start: number;
      if (i >= 0) {
        base = snaps[i].counts;
        start = from;
      } else if (series.startedAt !== undefined && series.startedAt >= from) {
        start = series.startedAt;
      } else {
        i = 0;
        base = snaps[0].counts;
        start = snaps[0].at;
      }
      const increases: Counts[] = [];
      for (let j = i + 1; j < snaps.length; j++) {
        increases.push(increase(base, snaps[j].counts));
        base = snaps[j].counts;
      }
      parts.push(sum(increases));
      earliest = Math.min(earliest, start);
      newest = Math.max(newest, snaps[snaps.length - 1].at);
    }
    if (parts.length === 0) return undefined;
    return { recent: summarize(sum(parts), Math.max(1, (newest - earliest) / 1000)), timestamp: newest };
  }

  private prune(pods: Map<string, PodCounts>, from: number): void {
    for (const [name, series] of pods) if ((series.snapshots.at(-1)?.at ?? 0) < from) pods.delete(name);
  }
}
