import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobTable } from './job-table.ts';
import type { PredictJob } from './types.ts';

const job = (id: number): PredictJob => ({
  id,
  body: Buffer.alloc(0),
  contentType: undefined,
  query: '',
  rawHeaders: [],
  done: () => {},
});

test('jobs are found by id, out of order, including one outlived by 10000 newer jobs', () => {
  const t = new JobTable();
  const slow = job(1);
  t.set(1, slow);
  for (let id = 2; id < 10_002; id++) {
    t.set(id, job(id));
    if (id % 3 !== 0) assert.equal(t.take(id)?.id, id);
  }
  assert.equal(t.take(1), slow, 'the slow job survives its slot being reused');
  assert.equal(t.take(1), undefined, 'a job is taken once');
  const rest = t.takeAll();
  assert.equal(rest.length, Math.floor(10_001 / 3));
  assert.ok(rest.every((j) => j.id % 3 === 0));
  assert.equal(t.size, 0);
  assert.equal(t.take(3), undefined);
});
