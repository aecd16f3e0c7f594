// The Kubernetes HPA controller (autoscaling/v2) for what our operator generates: one Pods metric
// with an AverageValue target and a spec.behavior. A pure, stateful-by-argument model of one
// sync (every 15 s, --horizontal-pod-autoscaler-sync-period), written from the controller's
// source at the version our test control plane runs, kubernetes v1.37.2:
//   pkg/controller/podautoscaler/horizontal.go: reconcileAutoscaler, tolerancesForHpa,
//     normalizeDesiredReplicasWithBehaviors, stabilizeRecommendationWithBehaviors,
//     convertDesiredReplicasWithBehaviorRate, calculateScaleUpLimitWithScalingRules,
//     calculateScaleDownLimitWithBehaviors, getReplicasChangePerPeriod, storeScaleEvent;
//   pkg/controller/podautoscaler/replica_calculator.go: calcPlainMetricReplicas, groupPods,
//     Tolerances.isWithin;
//   pkg/controller/podautoscaler/metrics/utilization.go: GetMetricUsageRatio;
//   pkg/apis/autoscaling/v2/defaults.go: the behavior defaults.
// What it leaves out: other metric types, HPAs without spec.behavior (another, older code path),
// scaling from zero (needs an Object or External metric; our HPA has a Pods metric, so at zero
// replicas the controller only reports ScalingDisabled and waits for someone else to wake it).
//
// Times are seconds. Metric values are integers in milli-units, as the controller reads them
// (Quantity.MilliValue()).

import type { V2HorizontalPodAutoscaler, V2HPAScalingRules } from '@kubernetes/client-node';
import { parseQuantity } from '../../operator/api/v1alpha1/index.ts';

/** --horizontal-pod-autoscaler-sync-period default. */
export const HPA_SYNC_SECONDS = 15;

/** The controller-manager flags and feature gates that change the maths. */
export interface HpaControllerFlags {
  /** --horizontal-pod-autoscaler-tolerance (default 0.1): used where the HPA sets none. */
  tolerance: number;
  /** --horizontal-pod-autoscaler-downscale-stabilization (default 5m): used where scaleDown sets none. */
  downscaleStabilizationSeconds: number;
  /**
   * HPAConfigurableTolerance: alpha 1.33 (off), beta 1.35 (on), GA 1.37 (always on).
   * Off: behavior tolerances are ignored.
   */
  configurableTolerance: boolean;
}

/** Defaults of kube-controller-manager v1.37. */
export const KUBE_1_37_FLAGS: HpaControllerFlags = {
  tolerance: 0.1,
  downscaleStabilizationSeconds: 300,
  configurableTolerance: true,
};

export interface HpaPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

/** HPAScalingRules after the API server's defaulting (stabilizationWindowSeconds may stay unset for scaleDown). */
export interface HpaRules {
  stabilizationWindowSeconds?: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: HpaPolicy[];
  /** A fraction (0.05 = 5%); unset: the controller's --horizontal-pod-autoscaler-tolerance. */
  tolerance?: number;
}

export interface HpaModelSpec {
  minReplicas: number;
  maxReplicas: number;
  /** The Pods metric's target averageValue, in milli-units. */
  targetMilli: number;
  scaleUp: HpaRules;
  scaleDown: HpaRules;
}

function rulesOf(r: V2HPAScalingRules | undefined, defaults: HpaRules): HpaRules {
  // copyHPAScalingRules: each field the object sets replaces the default.
  const policies = r?.policies?.map((p) => ({
    type: p.type as HpaPolicy['type'],
    value: p.value,
    periodSeconds: p.periodSeconds,
  }));
  return {
    stabilizationWindowSeconds: r?.stabilizationWindowSeconds ?? defaults.stabilizationWindowSeconds,
    selectPolicy: (r?.selectPolicy as HpaRules['selectPolicy'] | undefined) ?? defaults.selectPolicy,
    policies: policies ?? defaults.policies,
    tolerance: r?.tolerance === undefined ? undefined : parseQuantity(r.tolerance),
  };
}

/**
 * The model's view of an autoscaling/v2 HPA with one Pods metric (AverageValue) and a behavior,
 * defaulted as the API server stores it. Throws for any other shape: the model would be wrong.
 */
export function hpaModelSpecOf(hpa: V2HorizontalPodAutoscaler): HpaModelSpec {
  const spec = hpa.spec;
  const name = hpa.metadata?.name ?? '(unnamed)';
  const metrics = spec?.metrics ?? [];
  const target = metrics[0]?.pods?.target;
  if (!spec || metrics.length !== 1 || target?.type !== 'AverageValue' || target.averageValue === undefined) {
    throw new Error(`HPA ${name}: the model covers exactly one Pods metric with an AverageValue target`);
  }
  if (!spec.behavior)
    throw new Error(`HPA ${name}: the model covers HPAs with spec.behavior (what the operator generates)`);
  return {
    minReplicas: spec.minReplicas ?? 1,
    maxReplicas: spec.maxReplicas,
    targetMilli: Math.ceil(Math.round(parseQuantity(target.averageValue) * 1e6) / 1e3),
    scaleUp: rulesOf(spec.behavior.scaleUp, {
      stabilizationWindowSeconds: 0,
      selectPolicy: 'Max',
      policies: [
        { type: 'Pods', value: 4, periodSeconds: 15 },
        { type: 'Percent', value: 100, periodSeconds: 15 },
      ],
    }),
    scaleDown: rulesOf(spec.behavior.scaleDown, {
      stabilizationWindowSeconds: undefined,
      selectPolicy: 'Max',
      policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
    }),
  };
}

/** One pod the HPA's selector matches, with what the custom metrics API returned for it. */
export interface PodMetric {
  name: string;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  /** Being deleted (deletionTimestamp set). */
  deleting?: boolean;
  /** The metric in milli-units; undefined when the metrics API returned nothing for this pod. */
  milli?: number;
}

export interface Tolerances {
  scaleUp: number;
  scaleDown: number;
}

/** tolerancesForHpa: the behavior's tolerances where the gate allows them, else the flag. */
export function tolerancesOf(spec: HpaModelSpec, flags: HpaControllerFlags): Tolerances {
  const t = { scaleUp: flags.tolerance, scaleDown: flags.tolerance };
  if (!flags.configurableTolerance) return t;
  if (spec.scaleUp.tolerance !== undefined) t.scaleUp = spec.scaleUp.tolerance;
  if (spec.scaleDown.tolerance !== undefined) t.scaleDown = spec.scaleDown.tolerance;
  return t;
}

function isWithin(t: Tolerances, ratio: number): boolean {
  return 1 - t.scaleDown <= ratio && ratio <= 1 + t.scaleUp;
}

/** GetMetricUsageRatio: the integer mean (Go int64 division) over the target. */
function usageRatio(values: readonly number[], targetMilli: number): { ratio: number; usage: number } {
  const usage = Math.trunc(values.reduce((a, b) => a + b, 0) / values.length);
  return { ratio: usage / targetMilli, usage };
}

/**
 * calcPlainMetricReplicas: the replicas one Pods metric asks for, from `currentReplicas`.
 * Pending pods are left out (and count as 0 when scaling up); pods without a value count as 0
 * when scaling up and as exactly the target when scaling down; within the tolerance, or when
 * those assumptions would flip the direction, the answer is `currentReplicas`.
 * Returns an error (the sync then changes nothing) when no pod has a value.
 */
export function podsMetricReplicas(
  currentReplicas: number,
  targetMilli: number,
  tolerances: Tolerances,
  pods: readonly PodMetric[],
): { replicas: number; usageMilli: number } | { error: string } {
  if (pods.length === 0) return { error: 'no pods returned by selector while calculating replica count' };
  const metrics = new Map<string, number>();
  const unready: string[] = [];
  const missing: string[] = [];
  let readyPodCount = 0;
  for (const pod of pods) {
    if (pod.deleting || pod.phase === 'Failed') continue; // ignored
    if (pod.phase === 'Pending') {
      unready.push(pod.name);
      continue;
    }
    if (pod.milli === undefined) {
      missing.push(pod.name);
      continue;
    }
    metrics.set(pod.name, pod.milli); // non-CPU metrics: readiness is not checked
    readyPodCount++;
  }
  if (metrics.size === 0) return { error: 'did not receive metrics for targeted pods (pods might be unready)' };

  const { ratio, usage } = usageRatio([...metrics.values()], targetMilli);
  const scaleUpWithUnready = unready.length > 0 && ratio > 1;
  if (!scaleUpWithUnready && missing.length === 0) {
    if (isWithin(tolerances, ratio)) return { replicas: currentReplicas, usageMilli: usage };
    return { replicas: Math.ceil(ratio * readyPodCount), usageMilli: usage };
  }
  if (missing.length > 0) {
    if (ratio < 1) for (const name of missing) metrics.set(name, targetMilli);
    else if (ratio > 1) for (const name of missing) metrics.set(name, 0);
  }
  if (scaleUpWithUnready) for (const name of unready) metrics.set(name, 0);

  const { ratio: newRatio } = usageRatio([...metrics.values()], targetMilli);
  if (isWithin(tolerances, newRatio) || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1)) {
    return { replicas: currentReplicas, usageMilli: usage };
  }
  const newReplicas = Math.ceil(newRatio * metrics.size);
  if ((newRatio < 1 && newReplicas > currentReplicas) || (newRatio > 1 && newReplicas < currentReplicas)) {
    return { replicas: currentReplicas, usageMilli: usage };
  }
  return { replicas: newReplicas, usageMilli: usage };
}

export interface TimedReplicas {
  at: number;
  replicas: number;
}

/** What the controller keeps per HPA between syncs. */
export interface HpaState {
  /** Unstabilised recommendations; undefined before the first sync (recordInitialRecommendation). */
  recommendations?: TimedReplicas[];
  /** Replicas added / removed by each rescale (positive numbers). */
  scaleUpEvents: TimedReplicas[];
  scaleDownEvents: TimedReplicas[];
}

export function initialHpaState(): HpaState {
  return { scaleUpEvents: [], scaleDownEvents: [] };
}

/** getReplicasChangePerPeriod: replicas changed by events strictly after now − period. */
function changeInPeriod(events: readonly TimedReplicas[], now: number, periodSeconds: number): number {
  let n = 0;
  for (const e of events) if (e.at > now - periodSeconds) n += e.replicas;
  return n;
}

/** calculateScaleUpLimitWithScalingRules: the most replicas the policies allow now. */
export function scaleUpLimit(current: number, state: HpaState, rules: HpaRules, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const pick = rules.selectPolicy === 'Min' ? Math.min : Math.max;
  let result = rules.selectPolicy === 'Min' ? Infinity : -Infinity;
  for (const p of rules.policies) {
    const periodStart =
      current -
      changeInPeriod(state.scaleUpEvents, now, p.periodSeconds) +
      changeInPeriod(state.scaleDownEvents, now, p.periodSeconds);
    // Percent rounds up, else a small Percent could never add a replica.
    const proposed = p.type === 'Pods' ? periodStart + p.value : Math.ceil(periodStart * (1 + p.value / 100));
    result = pick(result, proposed);
  }
  return result;
}

/** calculateScaleDownLimitWithBehaviors: the fewest replicas the policies allow now. */
export function scaleDownLimit(current: number, state: HpaState, rules: HpaRules, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  // The policy allowing the least change gives the highest floor, hence Max for 'Min'.
  const pick = rules.selectPolicy === 'Min' ? Math.max : Math.min;
  let result = rules.selectPolicy === 'Min' ? -Infinity : Infinity;
  for (const p of rules.policies) {
    const periodStart =
      current -
      changeInPeriod(state.scaleUpEvents, now, p.periodSeconds) +
      changeInPeriod(state.scaleDownEvents, now, p.periodSeconds);
    // Percent truncates (Go int32 conversion), where Cortex's factor rounded up.
    const proposed = p.type === 'Pods' ? periodStart - p.value : Math.trunc(periodStart * (1 - p.value / 100));
    result = pick(result, proposed);
  }
  return result;
}

export interface HpaSyncInput {
  now: number;
  /** The Deployment's spec.replicas (the scale subresource). */
  specReplicas: number;
  /** The pods the selector matches, with their metric values. */
  pods: readonly PodMetric[];
}

export interface HpaSync {
  state: HpaState;
  /** Replicas the HPA sets (= specReplicas when it does not rescale). */
  desiredReplicas: number;
  rescale: boolean;
  /** Why: the controller's reason or condition. */
  reason: string;
  /** The metric's proposal before stabilisation and limits; undefined when not computed. */
  proposal?: number;
}

function normalizeWithBehaviors(
  spec: HpaModelSpec,
  flags: HpaControllerFlags,
  state: HpaState,
  now: number,
  current: number,
  desired: number,
  min: number,
): { state: HpaState; replicas: number } {
  const upWindow = spec.scaleUp.stabilizationWindowSeconds ?? 0;
  const downWindow = spec.scaleDown.stabilizationWindowSeconds ?? flags.downscaleStabilizationSeconds;

  // stabilizeRecommendationWithBehaviors: lowest of the up window, highest of the down window,
  // both including this sync's recommendation; the current count moves only as far as they allow.
  const recs = state.recommendations ?? [];
  let upRec = desired;
  let downRec = desired;
  for (const r of recs) {
    if (r.at > now - upWindow) upRec = Math.min(upRec, r.replicas);
    if (r.at > now - downWindow) downRec = Math.max(downRec, r.replicas);
  }
  let stabilized = current;
  if (stabilized < upRec) stabilized = upRec;
  if (stabilized > downRec) stabilized = downRec;
  // The controller reuses one slot older than both windows; dropping them all is the same maths.
  const recommendations = [
    ...recs.filter((r) => r.at > now - upWindow || r.at > now - downWindow),
    { at: now, replicas: desired },
  ];
  const next = { ...state, recommendations };

  // convertDesiredReplicasWithBehaviorRate.
  let replicas = stabilized;
  if (stabilized > current) {
    const limit = Math.max(scaleUpLimit(current, state, spec.scaleUp, now), current);
    replicas = Math.min(stabilized, Math.min(spec.maxReplicas, limit));
  } else if (stabilized < current) {
    const limit = Math.min(scaleDownLimit(current, state, spec.scaleDown, now), current);
    replicas = Math.max(stabilized, Math.max(min, limit));
  }
  return { state: next, replicas };
}

/** storeScaleEvent, keeping only events the longest policy period can still count. */
function storeScaleEvent(spec: HpaModelSpec, state: HpaState, now: number, from: number, to: number): HpaState {
  const keep = (rules: HpaRules, events: TimedReplicas[]) => {
    const longest = Math.max(0, ...rules.policies.map((p) => p.periodSeconds));
    return events.filter((e) => e.at > now - longest);
  };
  if (to > from)
    return { ...state, scaleUpEvents: [...keep(spec.scaleUp, state.scaleUpEvents), { at: now, replicas: to - from }] };
  return {
    ...state,
    scaleDownEvents: [...keep(spec.scaleDown, state.scaleDownEvents), { at: now, replicas: from - to }],
  };
}

/** One reconcileAutoscaler pass. */
export function hpaSync(spec: HpaModelSpec, flags: HpaControllerFlags, state: HpaState, input: HpaSyncInput): HpaSync {
  const { now, specReplicas: current } = input;
  // recordInitialRecommendation: the first sync remembers the current count as a recommendation.
  let s: HpaState = state.recommendations ? state : { ...state, recommendations: [{ at: now, replicas: current }] };
  const min = spec.minReplicas;

  let desired: number;
  let reason: string;
  let proposal: number | undefined;
  if (current === 0) {
    // Someone scaled the target to zero; a Pods metric cannot scale it back (no pod reports).
    return { state: s, desiredReplicas: 0, rescale: false, reason: 'ScalingDisabled' };
  } else if (current > spec.maxReplicas) {
    desired = spec.maxReplicas;
    reason = 'Current number of replicas above Spec.MaxReplicas';
  } else if (current < min) {
    desired = min;
    reason = 'Current number of replicas below Spec.MinReplicas';
  } else {
    const computed = podsMetricReplicas(current, spec.targetMilli, tolerancesOf(spec, flags), input.pods);
    if ('error' in computed)
      return { state: s, desiredReplicas: current, rescale: false, reason: `FailedGetPodsMetric: ${computed.error}` };
    proposal = computed.replicas;
    const normalized = normalizeWithBehaviors(spec, flags, s, now, current, Math.max(0, proposal), min);
    s = normalized.state;
    desired = normalized.replicas;
    reason =
      desired > current ? 'metric above target' : desired < current ? 'All metrics below target' : 'ReadyForNewScale';
  }
  const rescale = desired !== current;
  if (rescale) s = storeScaleEvent(spec, s, now, current, desired);
  return { state: s, desiredReplicas: rescale ? desired : current, rescale, reason, proposal };
}

/**
 * What the HPA's step limits allow from `current` replicas in one period (the HPA controller's
 * arithmetic, for tests and docs): [lowest, highest].
 */
export function stepLimits(
  current: number,
  behavior: { scaleUp: V2HPAScalingRules; scaleDown: V2HPAScalingRules },
): [number, number] {
  let highest = current;
  for (const p of behavior.scaleUp.policies ?? []) {
    const proposed = p.type === 'Pods' ? current + p.value : Math.ceil(current * (1 + p.value / 100));
    highest = Math.max(highest, proposed);
  }
  let lowest = current;
  for (const p of behavior.scaleDown.policies ?? []) {
    const proposed = p.type === 'Pods' ? current - p.value : Math.trunc(current * (1 - p.value / 100));
    lowest = Math.min(lowest, proposed);
  }
  return [Math.max(0, lowest), highest];
}
