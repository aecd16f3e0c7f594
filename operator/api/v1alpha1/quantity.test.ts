import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseCpuMillis,
  parseMemBytes,
  parseQuantity,
  parseIntOrPercent,
  quantitySuffix,
  QUANTITY_PATTERN,
} from './quantity.ts';
import { parseDurationMs, DURATION_PATTERN } from './duration.ts';

test('parseCpuMillis follows Kubernetes quantity rules', () => {
  assert.equal(parseCpuMillis('200m'), 200);
  assert.equal(parseCpuMillis('1'), 1000);
  assert.equal(parseCpuMillis(1), 1000);
  assert.equal(parseCpuMillis(0.5), 500);
  assert.equal(parseCpuMillis(0.2), 200);
  assert.equal(parseCpuMillis('0.1'), 100);
  assert.equal(parseCpuMillis('1.5'), 1500);
  assert.equal(parseCpuMillis('.5'), 500);
  assert.equal(parseCpuMillis('2k'), 2_000_000);
  assert.equal(parseCpuMillis('1e-1'), 100);
  assert.equal(parseCpuMillis('0.0001'), 1, 'rounded up to 1m like MilliValue()');
  assert.equal(parseCpuMillis('0'), 0);
  for (const bad of ['lots', '', '1.2.3', '200 m', 'm', '1e', '1Ki5', '-1', '1mi']) {
    assert.throws(() => parseCpuMillis(bad), /CPU quantity/, bad);
  }
  assert.throws(() => parseCpuMillis(Number.NaN));
});

test('parseMemBytes follows Kubernetes quantity rules', () => {
  assert.equal(parseMemBytes('200M'), 200_000_000);
  assert.equal(parseMemBytes('1Gi'), 2 ** 30);
  assert.equal(parseMemBytes('512Mi'), 512 * 2 ** 20);
  assert.equal(parseMemBytes('1.5Gi'), 1.5 * 2 ** 30);
  assert.equal(parseMemBytes('1k'), 1000);
  assert.equal(parseMemBytes('1Ki'), 1024);
  assert.equal(parseMemBytes('1e3'), 1000);
  assert.equal(parseMemBytes('1E3'), 1000);
  assert.equal(parseMemBytes('1E'), 1e18, 'a bare E is the exa suffix');
  assert.equal(parseMemBytes('2T'), 2e12);
  assert.equal(parseMemBytes(1024), 1024);
  assert.equal(parseMemBytes('200m'), 1, 'milli-bytes round up to whole bytes');
  for (const bad of ['200MB', '1gi', 'lots', '1 Gi', '-1Gi', 'Gi']) {
    assert.throws(() => parseMemBytes(bad), /memory quantity/, bad);
  }
});

test('parseQuantity and quantitySuffix', () => {
  assert.equal(parseQuantity('-1.5'), -1.5);
  assert.equal(parseQuantity('+2'), 2);
  assert.equal(quantitySuffix('1Gi'), 'Gi');
  assert.equal(quantitySuffix('200m'), 'm');
  assert.equal(quantitySuffix('12'), '');
  assert.equal(quantitySuffix('1e3'), 'e3');
  assert.equal(quantitySuffix('nope'), undefined);
});

test('the CRD quantity pattern agrees with the parser', () => {
  const pattern = new RegExp(QUANTITY_PATTERN);
  for (const q of ['200m', '1', '0.5', '.5', '1Gi', '1e3', '+1', '-1', '2E', '3n', '4u']) {
    assert.ok(pattern.test(q), q);
    assert.doesNotThrow(() => parseQuantity(q), q);
  }
  for (const q of ['lots', '1gi', '200MB', '', '1e']) {
    assert.ok(!pattern.test(q), q);
    assert.throws(() => parseQuantity(q), q);
  }
});

test('parseDurationMs reads Go durations', () => {
  assert.equal(parseDurationMs('100ms'), 100);
  assert.equal(parseDurationMs('1.5s'), 1500);
  assert.equal(parseDurationMs('60s'), 60_000);
  assert.equal(parseDurationMs('5m'), 300_000);
  assert.equal(parseDurationMs('1h30m'), 5_400_000);
  assert.equal(parseDurationMs('1h0m10s'), 3_610_000);
  assert.equal(parseDurationMs('250us'), 0.25);
  assert.equal(parseDurationMs('250µs'), 0.25);
  assert.equal(parseDurationMs('1000000ns'), 1);
  assert.equal(parseDurationMs('.5s'), 500);
  assert.equal(parseDurationMs('0'), 0);
  assert.equal(parseDurationMs('0s'), 0);
  for (const bad of ['', '60', '5 m', '-5m', '1d', 'm', '1.5', 's5', '1h30', 'abc']) {
    assert.throws(() => parseDurationMs(bad), /not a valid duration/, bad);
  }
  assert.throws(() => parseDurationMs(60 as unknown as string), /not a valid duration/);
  const pattern = new RegExp(DURATION_PATTERN);
  assert.ok(pattern.test('1h30m') && !pattern.test('60'));
});

test('parseIntOrPercent', () => {
  assert.deepEqual(parseIntOrPercent('25%'), { kind: 'percent', value: 25 });
  assert.deepEqual(parseIntOrPercent(2), { kind: 'int', value: 2 });
  assert.deepEqual(parseIntOrPercent('3'), { kind: 'int', value: 3 });
  assert.throws(() => parseIntOrPercent(-1));
  assert.throws(() => parseIntOrPercent(1.5));
  assert.throws(() => parseIntOrPercent('25 %'));
  assert.throws(() => parseIntOrPercent('a%'));
});
