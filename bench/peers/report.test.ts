import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Measurement } from '../measure.ts';
import { table, verdicts, type Outcome } from './report.ts';

const ran = (id: string, side: 'cortex' | 'peer', requestsPerCpuS: number, p99Ms: number): Outcome => ({
  id,
  label: id,
  side,
  batching: '',
  status: 'ok',
  result: { requestsPerCpuS, p99Ms } as Measurement,
});

test('the best peer is the one with the most requests per CPU-second', () => {
  const v = verdicts([ran('a', 'peer', 100, 5), ran('b', 'peer', 300, 50), ran('c', 'cortex', 450, 50)]);
  assert.equal(v.best?.id, 'b');
  assert.equal(v.comparisons[0].perCpuRatio, 1.5);
  assert.equal(v.verdict, 'PASS');
});

test('a cortex below 1.5x, or with a worse p99, misses; without a peer there is no verdict', () => {
  assert.equal(verdicts([ran('b', 'peer', 300, 50), ran('c', 'cortex', 449, 10)]).verdict, 'MISS');
  assert.equal(verdicts([ran('b', 'peer', 300, 50), ran('c', 'cortex', 900, 51)]).verdict, 'MISS');
  const down: Outcome = { id: 'p', label: 'p', side: 'peer', batching: '', status: 'unavailable', reason: 'x' };
  assert.equal(verdicts([down, ran('c', 'cortex', 900, 1)]).verdict, 'N/A');
});

test('an unavailable server is listed with its reason', () => {
  const down: Outcome = {
    id: 'p',
    label: 'PyTriton',
    side: 'peer',
    batching: '',
    status: 'unavailable',
    reason: 'no\nmore',
  };
  const lines = table([down]);
  assert.match(lines[2], /^PyTriton\s+unavailable/);
  assert.equal(lines.at(-1), '  PyTriton: unavailable: no');
});
