// Cortex's own autoscaler, as a pure function ticked every 10 s: what Cortex's operator did to a
// RealtimeAPI's Deployment before this project handed the job to the Kubernetes HPA. We keep it
// to compare the two (bench/autoscaling-sim.ts, docs/autoscaling.md), not to run it.
//
// Source: cortexlabs/cortex pkg/autoscaler/autoscaler.go (autoscaleFn, Awaken) and
// pkg/autoscaler/recommendations.go at their last version (commit 89ba2f47, Cortex 0.42); the
// algorithm as ../shared/reference/cortex-config.md states it ("Autoscaling algorithm"). One tick:
//   1. avg = mean API-wide in-flight requests over `window`; no data → the tick does nothing.
//   2. raw = avg / targetReplicaConcurrency; rec = ⌈raw⌉.
//   3. Tolerance: cur·(1−downTol) < raw < cur or cur < raw < cur·(1+upTol) → rec = cur (strict).
//   4. Step limits: rec within [min(cur−1, ⌈cur·maxDownscaleFactor⌉), max(cur+1, ⌈cur·maxUpscaleFactor⌉)].
//   5. rec within [minReplicas, maxReplicas]; then rec is recorded.
//   6. Stabilisation: going down, no lower than min(cur, highest recommendation of the last
//      downscale period); going up, no higher than max(cur, lowest recommendation of the last
//      upscale period). "Last period" includes its boundary (age ≤ period). For one period after
//      the autoscaler's first tick it holds the replicas.
// Because step 6 reads recommendations already cut by step 4, a sustained change moves the
// replicas by one step per stabilisation period (×1.5 a minute up, ×0.75 per 5 minutes down with
// the defaults), not one step per tick.
// The state is an argument and a result: nothing is mutated, nothing reads the clock.

import { parseDurationMs, type AutoscalingSpec } from '../../operator/api/v1alpha1/index.ts';

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
  /** Recorded recommendations (after steps 3–5, and the 1 of a wake), oldest first. */
  recommendations: CortexRecommendation[];
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
function extremeSince(
  recs: readonly CortexRecommendation[],
  now: number,
  period: number,
  pick: (a: number, b: number) => number,
): number | undefined {
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
    const highest = extremeSince(recommendations, now, p.downscaleStabilizationSeconds, Math.max);
    const floor = highest === undefined ? undefined : Math.min(highest, cur);
    if (now - startedAt < p.downscaleStabilizationSeconds) request = cur;
    else if (floor !== undefined && request < floor) request = floor;
  }
  if (request > cur) {
    const lowest = extremeSince(recommendations, now, p.upscaleStabilizationSeconds, Math.min);
    const ceil = lowest === undefined ? undefined : Math.max(lowest, cur);
    if (now - startedAt < p.upscaleStabilizationSeconds) request = cur;
    else if (ceil !== undefined && request > ceil) request = ceil;
  }

  return { state: { ...state, startedAt, recommendations }, request, skipped: false, raw, recommendation: rec };
}

/**
 * Cortex's Awaken (called by its activator on a request to an API at zero): 0 → 1 at once, and
 * a recommendation of 1 recorded, so that the next downscale period cannot take it back to zero.
 * An API that already has replicas is left alone.
 */
export function cortexAwaken(
  state: CortexState,
  now: number,
  currentReplicas: number,
): { state: CortexState; request: number } {
  if (currentReplicas > 0) return { state, request: currentReplicas };
  return { state: { ...state, recommendations: [...state.recommendations, { at: now, replicas: 1 }] }, request: 1 };
}
