import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, medianFigures, pairedRatios, type RoundFigures } from './rounds.ts';

const fig = (requestsPerCpuS: number, p99Ms: number): RoundFigures => ({
  requestsPerS: requestsPerCpuS,
  p50Ms: p99Ms / 2,
  p99Ms,
  requestsPerCpuS,
  cpuCores: 1,
});

test('median of odd and even counts; NaN when there is nothing', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test("a server's row is each figure's own median over the rounds", () => {
  const row = medianFigures([fig(100, 9), fig(300, 1), fig(200, 5)]);
  assert.equal(row.requestsPerCpuS, 200);
  assert.equal(row.p99Ms, 5);
  assert.equal(row.p50Ms, 2.5);
});

test('ratios are taken within a round, so a machine that slows down between rounds does not move them', () => {
  // Round 2 ran on a machine half as fast: both sides halve, the ratio stays 4.
  const a = [fig(40_000, 2), fig(20_000, 4), fig(40_000, 2)];
  const b = [fig(10_000, 4), fig(5_000, 8), fig(10_000, 4)];
  const r = pairedRatios(a, b)!;
  assert.deepEqual(r.perCpu, [4, 4, 4]);
  assert.equal(r.perCpuMedian, 4);
  assert.equal(r.p99Median, 0.5);
  // The medians of each side's rows would have compared different rounds' machines.
});

test('rounds where one side did not run are skipped; no common round gives undefined', () => {
  const r = pairedRatios([fig(30, 1), undefined, fig(60, 1)], [fig(10, 1), fig(10, 1), fig(20, 2)])!;
  assert.deepEqual(r.perCpu, [3, 3]);
  assert.deepEqual(r.p99, [1, 0.5]);
  assert.equal(pairedRatios([undefined], [fig(1, 1)]), undefined);
});
