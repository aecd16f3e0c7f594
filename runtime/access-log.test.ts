import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiLogger } from '../operator/util/log.ts';
import { AccessLog } from './access-log.ts';

function capture(level: 'info' | 'warning') {
  const lines: string[] = [];
  const logger = apiLogger('iris "v2"', level, (chunk) => lines.push(...chunk.split('\n').filter(Boolean)));
  return { logger, lines };
}

test("an access-log line is the logger's own line for the same request, key order included", () => {
  const { logger, lines } = capture('info');
  const access = new AccessLog(logger, 'iris "v2"');
  assert.equal(access.enabled, true);
  for (const [status, id, ms] of [
    [200, 17, 1.234],
    [503, 'client "id"\n\\', 0],
  ] as const) {
    access.answered(status, id, ms);
    logger.info(`POST / ${status}`, { request_id: String(id), status, latency_ms: ms });
  }
  logger.flush();
  assert.equal(lines.length, 4);
  for (const [ours, theirs] of [
    [lines[0], lines[1]],
    [lines[2], lines[3]],
  ]) {
    const a = JSON.parse(ours) as Record<string, unknown>;
    const b = JSON.parse(theirs) as Record<string, unknown>;
    assert.ok(Math.abs(Date.parse(a.time as string) - Date.parse(b.time as string)) < 1000);
    delete a.time;
    delete b.time;
    assert.deepEqual(Object.entries(a), Object.entries(b));
  }
});

test('the access log is off below info (log_level: warning)', () => {
  const { logger } = capture('warning');
  assert.equal(new AccessLog(logger, 'iris').enabled, false);
});

test("a Handler's request is logged with its own method, not as a POST", () => {
  const { logger, lines } = capture('info');
  new AccessLog(logger, 'notes').answered(405, 3, 0.5, 'PATCH');
  logger.flush();
  assert.equal((JSON.parse(lines[0]) as { message: string }).message, 'PATCH / 405');
});
