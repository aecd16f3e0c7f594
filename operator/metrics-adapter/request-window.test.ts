import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Counts } from './request-stats.ts';
import { RequestWindows } from './request-window.ts';

const T0 = 1_700_000_000_000;
/** Cumulative counters: `fast` answers ≤ 0.1 s, `slow` in (0.1, 1], `errors` of them 5xx. */
const counts = (fast: number, slow: number, errors = 0): Counts => ({
  requests: fast + slow,
  errors,
  buckets: new Map([
    [0.1, fast],
    [1, fast + slow],
    [Infinity, fast + slow],
  ]),
});

test('the window counts only what was served in its last minutes, from scrapes a second apart', () => {
  const w = new RequestWindows(60_000);
  // 100 fast requests before the window, then 10 slow ones (5 failing) inside it
  for (let s = 0; s <= 120; s++) {
    const c = s < 90 ? counts(100, 0) : counts(100, 10, 5);
    w.record('ns', 'api', 'pod-a', T0 + s * 1000, c, T0 - 3600_000);
  }
  const f = w.figures('ns', 'api', T0 + 120_000)!;
  assert.equal(f.timestamp, T0 + 120_000);
  assert.equal(f.recent.windowSeconds, 60);
  assert.equal(f.recent.requests, 10);
  assert.equal(f.recent.errorRatio, 0.5);
  assert.ok(f.recent.p50Ms! > 100 && f.recent.p99Ms! <= 1000, JSON.stringify(f.recent));
  // the same history an hour later: nothing in the window
  assert.equal(w.figures('ns', 'api', T0 + 3600_000), undefined);
});

test('a restarted replica, a replica started inside the window and one gone within it all count', () => {
  const w = new RequestWindows(60_000);
  for (let s = 0; s <= 60; s++) {
    const at = T0 + s * 1000;
    // pod-a restarts at 30 s: its counter drops from 20 to 0, then serves 3 more
    w.record('ns', 'api', 'pod-a', at, s < 10 ? counts(10, 0) : s < 30 ? counts(20, 0) : counts(3, 0), T0 - 600_000);
    // pod-b started at 20 s (inside the window): its first scrape's 4 requests count
    if (s >= 25) w.record('ns', 'api', 'pod-b', at, counts(4, 0, 1), T0 + 20_000);
    // pod-c, scraped since the operator started, served 7 before: only its increase (2) counts; gone at 40 s
    if (s <= 40) w.record('ns', 'api', 'pod-c', at, s < 35 ? counts(7, 0) : counts(9, 0), T0 - 600_000);
  }
  const f = w.figures('ns', 'api', T0 + 61_000)!;
  assert.equal(f.recent.requests, 10 + 3 + 4 + 2, JSON.stringify(f.recent));
  assert.equal(f.recent.errorRatio, 1 / 19);
  // another API, another namespace: nothing
  assert.equal(w.figures('other', 'api', T0 + 61_000), undefined);
  w.forgetApi('ns', 'api');
  assert.equal(w.figures('ns', 'api', T0 + 61_000), undefined);
});

test('memory stays bounded: about one snapshot per 5 s of the window per pod', () => {
  const w = new RequestWindows(300_000);
  for (let s = 0; s <= 3600; s++) w.record('ns', 'api', 'pod-a', T0 + s * 1000, counts(s, 0), T0);
  const snapshots = (w as unknown as { apis: Map<string, Map<string, { snapshots: unknown[] }>> }).apis
    .get('ns/api')!
    .get('pod-a')!.snapshots.length;
  assert.ok(snapshots <= 80, `${snapshots} snapshots kept`);
  const f = w.figures('ns', 'api', T0 + 3600_000)!;
  assert.equal(f.recent.windowSeconds, 300);
  // one request a second: 300 in the window, give or take the snapshot spacing at its start
  assert.ok(f.recent.requests >= 300 && f.recent.requests <= 305, String(f.recent.requests));
});
