import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ItemCounter, percentile } from './streaming-load.ts';

test('items are counted by their separators, also when one is split across chunks', () => {
  const sse = new ItemCounter('sse');
  for (const chunk of ['data: 1\n', '\ndata: 2\n\nda', 'ta: 3\r\n', '\r\n']) sse.push(chunk);
  assert.equal(sse.items, 3);
  const lines = new ItemCounter('ndjson');
  for (const chunk of ['{"a":1}\n{"a"', ':2}\n', '{"a":3}\n']) lines.push(chunk);
  assert.equal(lines.items, 3);
});

test('percentile: nearest rank', () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(values, 50), 50);
  assert.equal(percentile(values, 99), 99);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});
