import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Deque } from './deque.ts';

test('deque keeps FIFO order across growth and wrap-around, and frees shifted slots', () => {
  const q = new Deque<number>();
  const model: number[] = [];
  let next = 0;
  for (let round = 0; round < 200; round++) {
    const pushes = (round * 7) % 23;
    for (let i = 0; i < pushes; i++) {
      q.push(next);
      model.push(next++);
    }
    const shifts = (round * 5) % 19;
    for (let i = 0; i < shifts; i++) assert.equal(q.shift(), model.shift());
    assert.equal(q.length, model.length);
    assert.deepEqual([...q], model);
  }
  q.clear();
  assert.equal(q.shift(), undefined);
  assert.equal(q.length, 0);
});
