import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';
import { OpenExchanges } from './exchanges.ts';

const fakeRes = (n: number) => ({ n }) as unknown as http.ServerResponse;

test('open exchanges are counted, closed once, and walked whatever order they close in', () => {
  const open = new OpenExchanges();
  const [a, b, c] = [1, 2, 3].map((n) => open.open(fakeRes(n)));
  assert.equal(open.size, 3);
  assert.equal(open.close(b), true);
  assert.equal(open.close(b), false, 'a second close (answered after the grace period) is refused');
  assert.equal(open.size, 2);
  assert.deepEqual(new Set(open.snapshot()), new Set([a, c]));
  // Closing every one while walking a snapshot (what the end of the grace period does).
  for (const x of open.snapshot()) open.close(x);
  assert.equal(open.size, 0);
  assert.deepEqual(open.snapshot(), []);
  const d = open.open(fakeRes(4));
  assert.deepEqual(open.snapshot(), [d], 'the list is usable again after emptying');
});
