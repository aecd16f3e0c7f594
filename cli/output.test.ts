import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Chalk } from 'chalk';
import { ago, bytes, seconds, shellQuote, table } from './output.ts';

test('durations and ages read like kubectl', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  const at = (s: number) => new Date(now - s * 1000).toISOString();
  assert.deepEqual(
    [at(5), at(125), at(3 * 3600 + 300), at(3 * 86400)].map((t) => ago(t, now)),
    ['5s', '2m', '3h5m', '3d'],
  );
  assert.equal(ago(undefined), '-');
  assert.deepEqual([seconds(420), seconds(12_340), seconds(125_000)], ['0.4s', '12.3s', '2m05s']);
  assert.deepEqual([bytes(900), bytes(4096), bytes(3 * 1024 * 1024)], ['900 B', '4.0 KiB', '3.0 MiB']);
});

test('tables pad columns to the widest cell, ignoring colour codes', () => {
  const c = new Chalk({ level: 1 });
  const text = table(
    ['api', 'status'],
    [
      ['iris-classifier', c.green('live')],
      ['b', 'error'],
    ],
    new Chalk({ level: 0 }),
  );
  assert.equal(text, 'api               status\niris-classifier   \x1b[32mlive\x1b[39m\nb                 error\n');
});

test('shell quoting only when needed', () => {
  assert.equal(shellQuote('@sample.json'), '@sample.json');
  assert.equal(shellQuote("@my file's.json"), `'@my file'\\''s.json'`);
});
