// The API's HorizontalPodAutoscaler (autoscaling/v2): Cortex's autoscaling fields expressed as
// an HPA on the replicas' in-flight requests. docs/autoscaling.md explains the mapping and
// bench/autoscaling-sim.ts measures it against Cortex's own algorithm (bench/autoscaling/).
//
// Cortex's algorithm (every 10 s): rec = ⌈avg in-flight / targetReplicaConcurrency⌉, cut to
// [min(cur−1, ⌈cur·maxDownscaleFactor⌉), max(cur+1, ⌈cur·maxUpscaleFactor⌉)] and
// [minReplicas, maxReplicas], recorded, then stabilised over the up/down periods. The HPA equivalent:
// - a Pods metric cortex_in_flight_requests with target averageValue = targetReplicaConcurrency
//   (the HPA computes ⌈sum / target⌉, i.e. the same recommendation);
// - stabilizationWindowSeconds from the stabilization periods (the HPA's own semantics are
//   Cortex's: highest recommendation of the window when scaling down, lowest when scaling up);
// - behavior.scaleUp: Percent (maxUpscaleFactor−1)·100 or 1 Pod, whichever is more (selectPolicy
//   Max) = max(cur+1, ⌈cur·maxUpscaleFactor⌉);
// - behavior.scaleDown: Percent (1−maxDownscaleFactor)·100 or 1 Pod, whichever is more =
//   min(cur−1, ⌊cur·maxDownscaleFactor⌋): the HPA truncates a Percent step down where Cortex
//   rounded up, so a step down may be one replica larger than Cortex's;
// - the policies' periodSeconds = the stabilization period of their direction (15 s to 30 min,
//   the HPA's bounds). Cortex stabilised recommendations it had already cut to one step, so a
//   sustained change moved one step per stabilisation period (×1.5 a minute up, ×0.75 per 5
//   minutes down by default). The HPA stabilises uncut recommendations, so with 15 s periods it
//   would step every sync once a window agreed, and on a metric that counts queued requests it
//   overshoots to maxReplicas (the simulation shows it on every trace); one step per period
//   restores Cortex's pace;
// - tolerance from the up/down tolerances (Kubernetes ≥ 1.35 by default; before that, the
//   cluster-wide 10%).
// `window` (averaging of the metric) belongs to whatever serves the metric, not to the HPA.

import type { V2HorizontalPodAutoscaler, V2HPAScalingRules, V2MetricSpec } from '@kubernetes/client-node';
import { parseDurationMs } from '../api/v1alpha1/index.ts';
import { DEPLOYMENTS, HPAS } from '../kube/resources.ts';
import {
  childMetadata,
  ruleOn,
  type ApiInstance,
  type ChildConfig,
  type ChildReconciler,
  type PolicyRule,
} from './types.ts';

/** An AsyncAPI's metric: its queue's depth (operator/metrics-adapter/queue-depth.ts). */
export const QUEUE_DEPTH_METRIC = 'cortex_async_queue_depth';
/** The metric every replica exports (runtime/metrics.ts) and the HPA scales on. */
export const IN_FLIGHT_METRIC = 'cortex_in_flight_requests';
/** Shortest period of the step limits: the HPA controller's default sync period. */
export const MIN_POLICY_PERIOD_SECONDS = 15;
/** The HPA's longest policy period. */
export const MAX_POLICY_PERIOD_SECONDS = 1800;
/** The HPA's largest stabilization window. */
export const MAX_STABILIZATION_SECONDS = 3600;

export const hpaRbac: PolicyRule[] = [ruleOn(HPAS, ['get', 'list', 'watch', 'create', 'patch'])];

/** A number as a Kubernetes quantity: 2 → "2", 0.5 → "500m". */
export function quantityOf(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return `${Math.max(1, Math.round(n * 1000))}m`;
}

function seconds(duration: string): number {
  return Math.min(MAX_STABILIZATION_SECONDS, Math.max(0, Math.round(parseDurationMs(duration) / 1000)));
}

/** The step limits' period for a stabilization window: one step per window, within the HPA's bounds. */
function policyPeriod(stabilizationSeconds: number): number {
  return Math.min(MAX_POLICY_PERIOD_SECONDS, Math.max(MIN_POLICY_PERIOD_SECONDS, stabilizationSeconds));
}

/** A fraction as a Percent policy value: at least 1; at most 100 when scaling down (up may exceed it). */
function percent(fraction: number, max = Number.MAX_SAFE_INTEGER): number {
  return Math.min(max, Math.max(1, Math.round(fraction * 100)));
}

/** behavior.scaleUp / scaleDown from Cortex's autoscaling fields. */
export function behaviorOf(
  api: ApiInstance,
  config: Pick<ChildConfig, 'hpaTolerance'>,
): { scaleUp: V2HPAScalingRules; scaleDown: V2HPAScalingRules } {
  const a = api.spec.autoscaling;
  const upWindow = seconds(a.upscaleStabilizationPeriod);
  const downWindow = seconds(a.downscaleStabilizationPeriod);
  const up: V2HPAScalingRules = {
    stabilizationWindowSeconds: upWindow,
    selectPolicy: 'Max',
    policies: [
      { type: 'Percent', value: percent(a.maxUpscaleFactor - 1), periodSeconds: policyPeriod(upWindow) },
      { type: 'Pods', value: 1, periodSeconds: policyPeriod(upWindow) },
    ],
  };
  const down: V2HPAScalingRules = {
    stabilizationWindowSeconds: downWindow,
    selectPolicy: 'Max',
    policies: [
      { type: 'Percent', value: percent(1 - a.maxDownscaleFactor, 100), periodSeconds: policyPeriod(downWindow) },
      { type: 'Pods', value: 1, periodSeconds: policyPeriod(downWindow) },
    ],
  };
  if (config.hpaTolerance) {
    up.tolerance = String(a.upscaleTolerance);
    down.tolerance = String(a.downscaleTolerance);
  }
  return { scaleUp: up, scaleDown: down };
}

export function desiredHpa(api: ApiInstance, config: ChildConfig): V2HorizontalPodAutoscaler {
  const a = api.spec.autoscaling;
  // The HPA keeps at least one replica: it scales to zero only on an Object or External metric
  // (HPAScaleToZero), and a Pods metric has no value at zero. minReplicas 0 is the operator's and
  // the activator's job (operator/autoscaling/scale-to-zero.ts).
  const min = Math.max(1, a.minReplicas);
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: childMetadata(api),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: DEPLOYMENTS.kind, name: api.name },
      minReplicas: min,
      maxReplicas: Math.max(min, a.maxReplicas),
      metrics: [api.spec.async ? queueDepthMetric(api) : inFlightMetric(api)],
      behavior: behaviorOf(api, config),
    },
  };
}

function inFlightMetric(api: ApiInstance): V2MetricSpec {
  return {
    type: 'Pods',
    pods: {
      metric: { name: IN_FLIGHT_METRIC },
      target: { type: 'AverageValue', averageValue: quantityOf(api.spec.autoscaling.targetReplicaConcurrency) },
    },
  };
}

/**
 * An AsyncAPI scales on its queue's depth (requests not yet acked; operator/metrics-adapter/queue-depth.ts),
 * an Object metric of its RealtimeAPI: AverageValue divides it by the current replicas, so the HPA
 * keeps ⌈depth / targetReplicaConcurrency⌉ replicas, Cortex's AsyncAPI rule (queue length per replica).
 */
function queueDepthMetric(api: ApiInstance): V2MetricSpec {
  return {
    type: 'Object',
    object: {
      describedObject: { apiVersion: 'cortex.dev/v1alpha1', kind: 'RealtimeAPI', name: api.name },
      metric: { name: QUEUE_DEPTH_METRIC },
      target: { type: 'AverageValue', averageValue: quantityOf(api.spec.autoscaling.targetReplicaConcurrency) },
    },
  };
}

export const hpaReconciler: ChildReconciler<V2HorizontalPodAutoscaler> = {
  resource: HPAS,
  desired: desiredHpa,
  rbac: hpaRbac,
};
