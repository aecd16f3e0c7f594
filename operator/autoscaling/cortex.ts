// Cortex's own autoscaler, as a pure function ticked every 10 s: what Cortex's operator did to a
// RealtimeAPI's Deployment before this project handed the job to the Kubernetes HPA. We keep it
// to compare the two (bench/autoscaling-sim.ts, docs/autoscaling.md), not to run it.
//
// Source: cortexlabs/cortex pkg/autoscaler/autoscaler.go (autoscaleFn, Awaken) and
// pkg/autoscaler/recommendations.go; the algorithm as ../shared/reference/cortex-config.md states
// it ("Autoscaling algorithm"). One tick:
//   1. avg = mean API-wide in-flight requests over `window`; no data → the tick does nothing.
//   2. raw = avg / targetReplicaConcurrency; rec = ⌈raw⌉.
//   3. Tolerance: cur·(1−downTol) < raw < cur or cur < raw < cur·(1+upTol) → rec = cur (strict).
//   4. Step limits: rec within [min(cur−1, ⌈cur·maxDownscaleFactor⌉), max(cur+1, ⌈cur·maxUpscaleFactor⌉)].
//   5. rec within [minReplicas, maxReplicas]; then rec is recorded.
//   6. Stabilisation, in Cortex's order: going down, request = max(rec, highest recommendation
//      of the last downscale period); then, if that request is above cur, request = min(request,
//      lowest recommendation of the last upscale period). "Last period" includes its boundary
//      (age ≤ period). For one period after the autoscaler's first tick it holds the replicas,
//      and for one downscale period after a wake from zero it never requests 0.
// The state is an argument and a result: nothing is mutated, nothing reads the clock.

import { parseDurationMs, type AutoscalingSpec } from '../api/v1alpha1/index.ts';

/** Cortex's tick (spec.AutoscalingTickInterval). */
export const CORTEX_TICK_SECONDS = 10;

/** Cortex's autoscaling fields, durations in seconds. */
export interface CortexParams {
  minReplicas: number;
  maxReplicas: number;
  targetReplicaConcurrency: number;
  windowSeconds: number;
  downscaleStabilizationSeconds: number;
  upscaleStabilizationSeconds: number;
  maxDownscaleFactor: number;
  maxUpscaleFactor: number;
  downscaleTolerance: number;
  upscaleTolerance: number;
}

/** The parameters of a defaulted RealtimeAPI spec's autoscaling section. */
export function cortexParamsOf(a: AutoscalingSpec): CortexParams {
  return {
    minReplicas: a.minReplicas,
    maxReplicas: a.maxReplicas,
    targetReplicaConcurrency: a.targetReplicaConcurrency,
    windowSeconds: parseDurationMs(a.window) / 1000,
    downscaleStabilizationSeconds: parseDurationMs(a.downscaleStabilizationPeriod) / 1000,
    upscaleStabilizationSeconds: parseDurationMs(a.upscaleStabilizationPeriod) / 1000,
    maxDownscaleFactor: a.maxDownscaleFactor,
    maxUpscaleFactor: a.maxUpscaleFactor,
    downscaleTolerance: a.downscaleTolerance,
    upscaleTolerance: a.upscaleTolerance,
  };
}

export interface CortexRecommendation {
  at: number;
  replicas: number;
}

export interface CortexState {
  /** Time of the autoscaler's first tick; undefined before it. */
  startedAt?: number;
  /** Recorded recommendations (after steps 3–5), oldest first. */
  recommendations: CortexRecommendation[];
  /** Last wake from zero (Awaken); undefined when never woken. */
  awakenedAt?: number;
}

export function initialCortexState(): CortexState {
  return { recommendations: [] };
}

export interface CortexTickInput {
  /** Seconds. */
  now: number;
  /** The Deployment's replicas. */
  currentReplicas: number;
  /** API-wide in-flight requests averaged over the window (windowAverage); undefined: no data. */
  avgInFlight: number | undefined;
}

export interface CortexTick {
  state: CortexState;
  /** Replicas to set (= currentReplicas when nothing changes). */
  request: number;
  /** True when there was no data and the tick did nothing. */
  skipped: boolean;
  /** avg / target (step 2); undefined when skipped. */
  raw?: number;
  /** The recorded recommendation (after steps 3–5); undefined when skipped. */
  recommendation?: number;
}

/** Highest (or lowest) recorded recommendation no older than `period` seconds; undefined when none. */
function extremeSince(recs: readonly CortexRecommendation[], now: number, period: number, pick: (a: number, b: number) => number): number | undefined {
  let found: number | undefined;
  for (const r of recs) {
    if (now - r.at <= period) found = found === undefined ? r.replicas : pick(found, r.replicas);
  }
  return found;
}

/** One autoscaler tick (steps 1–6). */
export function cortexTick(p: CortexParams, state: CortexState, input: CortexTickInput): CortexTick {
  const { now, currentReplicas: cur, avgInFlight } = input;
  const startedAt = state.startedAt ?? now;
  if (avgInFlight === undefined) {
    return { state: { ...state, startedAt }, request: cur, skipped: true };
  }

  const raw = avgInFlight / p.targetReplicaConcurrency;
  let rec = Math.ceil(raw);
  if (raw < cur && raw > cur * (1 - p.downscaleTolerance)) rec = cur;
  if (raw > cur && raw < cur * (1 + p.upscaleTolerance)) rec = cur;

  // Always allow one replica less and one more, whatever the factors.
  const downscaleFloor = Math.min(cur - 1, Math.ceil(cur * p.maxDownscaleFactor));
  const upscaleCeil = Math.max(cur + 1, Math.ceil(cur * p.maxUpscaleFactor));
  rec = Math.max(rec, downscaleFloor);
  rec = Math.min(rec, upscaleCeil);
  rec = Math.max(rec, p.minReplicas);
  rec = Math.min(rec, p.maxReplicas);

  const keep = Math.max(p.downscaleStabilizationSeconds, p.upscaleStabilizationSeconds);
  const recommendations = [...state.recommendations, { at: now, replicas: rec }].filter((r) => now - r.at <= keep);

  let request = rec;
  if (request < cur) {
    const floor = extremeSince(recommendations, now, p.downscaleStabilizationSeconds, Math.max);
    if (now - startedAt < p.downscaleStabilizationSeconds) request = cur;
    else if (floor !== undefined && request < floor) request = floor;
    // Just woken from zero: never straight back to zero.
    if (state.awakenedAt !== undefined && now - state.awakenedAt < p.downscaleStabilizationSeconds) request = Math.max(request, 1);
  }
  if (request > cur) {
    const ceil = extremeSince(recommendations, now, p.upscaleStabilizationSeconds, Math.min);
    if (now - startedAt < p.upscaleStabilizationSeconds) request = cur;
    else if (ceil !== undefined && request > ceil) request = ceil;
  }

  return { state: { ...state, startedAt, recommendations }, request, skipped: false, raw, recommendation: rec };
}

/**
 * Cortex's Awaken (called by its activator on a request to an API at zero): 0 → 1 at once,
 * remembered so that the next downscale period cannot take the API back to zero.
 * An API that already has replicas is left alone.
 */
export function cortexAwaken(state: CortexState, now: number, currentReplicas: number): { state: CortexState; request: number } {
  if (currentReplicas > 0) return { state, request: currentReplicas };
  return { state: { ...state, awakenedAt: now }, request: 1 };
}
