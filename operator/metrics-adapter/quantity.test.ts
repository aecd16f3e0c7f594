import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuantity } from '../api/v1alpha1/quantity.ts';
import { metricQuantity } from './quantity.ts';

test('whole numbers are written plainly, fractions in milli-units, rounded to the nearest milli', () => {
  assert.equal(metricQuantity(0), '0');
  assert.equal(metricQuantity(3), '3');
  assert.equal(metricQuantity(1.5), '1500m');
  assert.equal(metricQuantity(0.25), '250m');
  assert.equal(metricQuantity(2 / 3), '667m');
  assert.equal(metricQuantity(0.0004), '0', 'less than half a milli-unit is 0, never "0m"');
  assert.equal(metricQuantity(0.0006), '1m');
  assert.equal(metricQuantity(1.9999), '2', 'rounding up to a whole number drops the suffix');
  assert.equal(metricQuantity(-0.25), '-250m');
  assert.equal(metricQuantity(1024), '1024');
});

test('a value that is not finite is refused, not written as NaN', () => {
  assert.throws(() => metricQuantity(Number.NaN), /finite/);
  assert.throws(() => metricQuantity(Number.POSITIVE_INFINITY), /finite/);
});

test('quantities read back with the API parser: milli, plain, decimal and k suffixes', () => {
  for (const v of [0, 3, 1.5, 0.25, 1024, 0.667]) assert.equal(parseQuantity(metricQuantity(v)), v);
  assert.equal(parseQuantity('2.5'), 2.5);
  assert.equal(parseQuantity('1k'), 1000);
  assert.throws(() => parseQuantity('lots'), /not a valid quantity/);
});
