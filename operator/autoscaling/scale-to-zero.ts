// Scale to zero (autoscaling.minReplicas 0): when an API goes to 0 replicas and when it comes
// back, as pure functions the operator and the activator call.
//
// Why not the HPA: the HPA scales to zero only on an Object or External metric (HPAScaleToZero,
// beta and on by default from Kubernetes 1.37), and a Pods metric has no value once no pod runs.
// So the HPA keeps minReplicas ≥ 1 and owns 1..max; this decides 1 ↔ 0. Setting the Deployment to
// 0 makes the HPA report ScalingActive=False (ScalingDisabled) and leave it there; setting it
// back to 1 hands it back to the HPA (kubernetes horizontal.go, reconcileAutoscaler).
//
// - Idle: no request arrived and none was in flight or held for `scale_to_zero_after` (default
//   5m), counted from the later of the last active sample and the time the replicas came up →
//   go to 0. Never on stale data: without a sample in the last `maxSampleAgeSeconds`, nothing.
// - Wake: any request to an API at zero (the activator holds it) → 1 replica at once.
// Times are seconds. The state is an argument and a result.

/** Cortex's `scale_to_zero_after` default. */
export const DEFAULT_SCALE_TO_ZERO_AFTER_SECONDS = 300;
/** Activity samples older than this are not trusted to prove idleness. */
export const DEFAULT_MAX_SAMPLE_AGE_SECONDS = 30;

/** One observation of an API's traffic (the runtime's counters, or the activator's). */
export interface ActivitySample {
  at: number;
  /** Requests that arrived since the previous sample. */
  requests: number;
  /** Requests being served or held at that moment. */
  inFlight: number;
}

export interface ScaleToZeroState {
  /** Newest sample that showed a request. */
  lastActiveAt?: number;
  /** Newest sample of any kind. */
  lastSampleAt?: number;
  /** Since when the API has had replicas without a break (first decision seen, or the wake). */
  upSince?: number;
  /** When the API went to zero; undefined while it has replicas. */
  zeroSince?: number;
}

export function initialScaleToZeroState(): ScaleToZeroState {
  return {};
}

/** Folds one sample into the state (samples may arrive out of order). */
export function observeActivity(state: ScaleToZeroState, sample: ActivitySample): ScaleToZeroState {
  const active = sample.requests > 0 || sample.inFlight > 0;
  return {
    ...state,
    lastSampleAt: Math.max(state.lastSampleAt ?? -Infinity, sample.at),
    lastActiveAt: active ? Math.max(state.lastActiveAt ?? -Infinity, sample.at) : state.lastActiveAt,
  };
}

export interface ScaleToZeroInput {
  now: number;
  /** The Deployment's replicas. */
  currentReplicas: number;
  minReplicas: number;
  scaleToZeroAfterSeconds?: number;
  maxSampleAgeSeconds?: number;
}

export type ScaleToZeroAction =
  | { action: 'none'; reason: string }
  | { action: 'scale-to-zero'; idleSeconds: number }
  | { action: 'wake'; replicas: 1 };

/** What to do now; the returned state remembers when the API went to zero or came back. */
export function scaleToZeroDecision(
  state: ScaleToZeroState,
  input: ScaleToZeroInput,
): { state: ScaleToZeroState; decision: ScaleToZeroAction } {
  const { now, currentReplicas } = input;
  const after = input.scaleToZeroAfterSeconds ?? DEFAULT_SCALE_TO_ZERO_AFTER_SECONDS;
  const maxAge = input.maxSampleAgeSeconds ?? DEFAULT_MAX_SAMPLE_AGE_SECONDS;
  if (input.minReplicas > 0) return { state, decision: { action: 'none', reason: 'minReplicas > 0: never at zero' } };

  if (currentReplicas === 0) {
    const zeroSince = state.zeroSince ?? now;
    if (state.lastActiveAt !== undefined && state.lastActiveAt >= zeroSince) {
      return { state: { ...state, zeroSince: undefined, upSince: now }, decision: { action: 'wake', replicas: 1 } };
    }
    return {
      state: { ...state, zeroSince, upSince: undefined },
      decision: { action: 'none', reason: 'at zero, no request' },
    };
  }

  const upSince = state.upSince ?? now;
  const next = { ...state, upSince, zeroSince: undefined };
  if (state.lastSampleAt === undefined || now - state.lastSampleAt > maxAge) {
    return { state: next, decision: { action: 'none', reason: `no activity sample in the last ${maxAge}s` } };
  }
  const idleSince = Math.max(state.lastActiveAt ?? -Infinity, upSince);
  const idleSeconds = now - idleSince;
  if (idleSeconds >= after) {
    return {
      state: { ...next, zeroSince: now, upSince: undefined },
      decision: { action: 'scale-to-zero', idleSeconds },
    };
  }
  return { state: next, decision: { action: 'none', reason: `idle for ${idleSeconds}s of ${after}s` } };
}

/**
 * The activator's path: a request reached an API at zero → 1 replica now (the request is held
 * until it is ready). An API with replicas is left alone.
 */
export function wakeOnRequest(
  state: ScaleToZeroState,
  now: number,
  currentReplicas: number,
): { state: ScaleToZeroState; replicas: number } {
  const seen = observeActivity(state, { at: now, requests: 1, inFlight: 1 });
  if (currentReplicas > 0) return { state: seen, replicas: currentReplicas };
  return { state: { ...seen, zeroSince: undefined, upSince: now }, replicas: 1 };
}
