import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import type { ReplicaProcess } from './replica.ts';
import { RestartBackoff } from './restart-backoff.ts';

/** When each restart of a replica that crashes again at once comes, in ms after its crash. */
function delays(backoff: RestartBackoff, replica: ReplicaProcess, crashes: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < crashes; i++) {
    let waited = 0;
    let restarted = false;
    backoff.schedule(replica, () => (restarted = true));
    while (!restarted) {
      mock.timers.tick(100);
      waited += 100;
    }
    out.push(waited);
  }
  return out;
}

test('a replica that keeps crashing waits twice as long each time, 30 s at most', (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  t.after(() => mock.timers.reset());
  const replica = { readyAt: undefined } as ReplicaProcess;
  assert.deepEqual(delays(new RestartBackoff(), replica, 9), [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
});

test('a replica that served a minute starts from the first delay again; cancel forgets its failures', (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  t.after(() => mock.timers.reset());
  const backoff = new RestartBackoff();
  const replica = { readyAt: undefined } as ReplicaProcess;
  assert.deepEqual(delays(backoff, replica, 3), [500, 1000, 2000]);
  replica.readyAt = new Date(Date.now() - 61_000);
  assert.deepEqual(delays(backoff, replica, 1), [500]);
  replica.readyAt = new Date();
  assert.deepEqual(delays(backoff, replica, 1), [1000]);
  backoff.cancel(replica);
  assert.deepEqual(delays(backoff, replica, 1), [500]);
  let restarted = false;
  backoff.schedule(replica, () => (restarted = true));
  backoff.cancel(replica);
  mock.timers.tick(60_000);
  assert.equal(restarted, false, 'a cancelled restart never comes');
});
