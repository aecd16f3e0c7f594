import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_SCALE_TO_ZERO_AFTER_SECONDS,
  initialScaleToZeroState,
  observeActivity,
  scaleToZeroDecision,
  wakeOnRequest,
  type ActivitySample,
  type ScaleToZeroState,
} from './scale-to-zero.ts';

/** The state after samples every 10 s from `from` to `to`, with requests at the times in `busy`. */
function observed(
  state: ScaleToZeroState,
  from: number,
  to: number,
  busy: number[] = [],
  inFlightOnly = false,
): ScaleToZeroState {
  let s = state;
  for (let at = from; at <= to; at += 10) {
    const active = busy.includes(at);
    const sample: ActivitySample = { at, requests: active && !inFlightOnly ? 3 : 0, inFlight: active ? 1 : 0 };
    s = observeActivity(s, sample);
  }
  return s;
}

const up = (now: number, s: ScaleToZeroState, replicas = 1) =>
  scaleToZeroDecision(s, { now, currentReplicas: replicas, minReplicas: 0 });

test('scale to zero after scale_to_zero_after (default 5m) without a request', () => {
  assert.equal(DEFAULT_SCALE_TO_ZERO_AFTER_SECONDS, 300);
  let s = up(0, initialScaleToZeroState()).state; // replicas up since 0
  s = observed(s, 0, 400, [100]);
  // last request at 100: idle 299 s at 399, 300 s at 400
  assert.deepEqual(up(399, s).decision, { action: 'none', reason: 'idle for 299s of 300s' });
  const r = up(400, s);
  assert.deepEqual(r.decision, { action: 'scale-to-zero', idleSeconds: 300 });
  assert.equal(r.state.zeroSince, 400);
  // a shorter scale_to_zero_after
  assert.equal(
    scaleToZeroDecision(s, { now: 160, currentReplicas: 1, minReplicas: 0, scaleToZeroAfterSeconds: 60 }).decision
      .action,
    'scale-to-zero',
  );
});

test('scale to zero: a request still in flight counts as activity', () => {
  let s = up(0, initialScaleToZeroState()).state;
  s = observed(s, 0, 400, [100, 350], true); // no new arrivals at 350, one long request in flight
  assert.deepEqual(up(400, s).decision, { action: 'none', reason: 'idle for 50s of 300s' });
});

test('scale to zero: the idle clock starts when the replicas came up, not before', () => {
  // an API created at 1000 that never got a request
  let s = up(1000, initialScaleToZeroState()).state;
  s = observed(s, 1000, 1300);
  assert.equal(up(1299, s).decision.action, 'none');
  assert.equal(up(1300, s).decision.action, 'scale-to-zero');
});

test('scale to zero never on stale data: no sample in the last 30 s, no decision', () => {
  let s = up(0, initialScaleToZeroState()).state;
  s = observed(s, 0, 300);
  assert.deepEqual(up(331, s).decision, { action: 'none', reason: 'no activity sample in the last 30s' });
  assert.deepEqual(up(10, initialScaleToZeroState()).decision, {
    action: 'none',
    reason: 'no activity sample in the last 30s',
  });
});

test('scale to zero: minReplicas > 0 never goes to zero', () => {
  const s = observed(up(0, initialScaleToZeroState()).state, 0, 1000);
  assert.deepEqual(scaleToZeroDecision(s, { now: 1000, currentReplicas: 1, minReplicas: 1 }).decision, {
    action: 'none',
    reason: 'minReplicas > 0: never at zero',
  });
});

test('wake on request: any request to an API at zero brings it to 1 replica', () => {
  let s = observed(up(0, initialScaleToZeroState()).state, 0, 300);
  s = up(300, s).state; // → zero at 300
  s = observed(s, 310, 500); // nothing: stays at zero
  const quiet = scaleToZeroDecision(s, { now: 500, currentReplicas: 0, minReplicas: 0 });
  assert.deepEqual(quiet.decision, { action: 'none', reason: 'at zero, no request' });
  s = observeActivity(quiet.state, { at: 505, requests: 1, inFlight: 1 }); // held by the activator
  const woken = scaleToZeroDecision(s, { now: 506, currentReplicas: 0, minReplicas: 0 });
  assert.deepEqual(woken.decision, { action: 'wake', replicas: 1 });
  assert.deepEqual([woken.state.upSince, woken.state.zeroSince], [506, undefined]);
  // the activator's direct path
  const direct = wakeOnRequest(quiet.state, 505, 0);
  assert.equal(direct.replicas, 1);
  assert.equal(direct.state.lastActiveAt, 505);
  assert.equal(wakeOnRequest(quiet.state, 505, 4).replicas, 4, 'an API with replicas is left alone');
  // after the wake, the idle clock restarts from the request
  const later = observed(direct.state, 510, 810);
  assert.equal(scaleToZeroDecision(later, { now: 804, currentReplicas: 1, minReplicas: 0 }).decision.action, 'none');
  assert.equal(
    scaleToZeroDecision(later, { now: 805, currentReplicas: 1, minReplicas: 0 }).decision.action,
    'scale-to-zero',
  );
});
