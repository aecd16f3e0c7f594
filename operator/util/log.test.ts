import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { apiLogger, operatorLogger } from './log.ts';

test("the operator's logger writes each line at once: time, level, fields, message; warn() is level warning", () => {
  const chunks: string[] = [];
  const log = operatorLogger('info', (c) => chunks.push(c));
  log.debug('dropped');
  log.warn('reconcile failed', { api: 'ml/iris' });
  assert.equal(chunks.length, 1);
  const line = JSON.parse(chunks[0]) as Record<string, unknown>;
  assert.deepEqual(Object.keys(line), ['time', 'level', 'api', 'message']);
  assert.equal(line.level, 'warning');
  assert.equal(line.message, 'reconcile failed');
});

test("a replica's logger names the API and the request, and writes one turn's lines at once", async () => {
  const chunks: string[] = [];
  const log = apiLogger('iris', 'debug', (c) => chunks.push(c));
  log.info('POST / 200', { request_id: '7', status: 200 });
  log.error('boom');
  assert.equal(chunks.length, 0, 'buffered until the turn ends');
  assert.equal(log.enabled('debug'), true);
  await tick();
  assert.equal(chunks.length, 1);
  const [a, b] = chunks[0]
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(Object.keys(a), ['time', 'level', 'api', 'request_id', 'status', 'message']);
  assert.deepEqual([a.level, a.api, a.request_id], ['info', 'iris', '7']);
  assert.deepEqual([b.level, b.request_id], ['error', null]);
});
