// A RealtimeAPI serves either a predictor class (spec.predictor) or the user's own containers
// (spec.pod), never both: validateSpec and the CRD's CEL rule guarantee exactly one once a spec
// is valid. These types say which, so code narrows once instead of asserting everywhere.

import type { PodSpec } from './pod-types.ts';
import type { PredictorSpec, RealtimeApiSpec } from './realtimeapi-types.ts';

/** A valid spec of a predictor API. */
export type PredictorApiSpec = RealtimeApiSpec & { predictor: PredictorSpec; pod?: undefined };
/** A valid spec of a pod API (Cortex 0.36-0.42's container format). */
export type PodApiSpec = RealtimeApiSpec & { pod: PodSpec; predictor?: undefined };

export function isPodApi(spec: RealtimeApiSpec): spec is PodApiSpec {
  return spec.pod !== undefined;
}

export function isPredictorApi(spec: RealtimeApiSpec): spec is PredictorApiSpec {
  return spec.predictor !== undefined;
}

/** GPUs one replica needs: compute.gpu, or with pod the sum of its containers' (placement reads it). */
export function gpusPerReplica(spec: RealtimeApiSpec): number {
  if (spec.pod === undefined) return spec.compute.gpu;
  return spec.pod.containers.reduce((sum, c) => sum + c.compute.gpu, 0);
}

/**
 * The predictor of a spec that must have one (the runtime, `cortex serve`, dependencies):
 * a pod API there is a caller's mistake, said plainly rather than as a TypeError.
 */
export function predictorOf(spec: RealtimeApiSpec, where: string): PredictorSpec {
  if (spec.predictor === undefined) {
    throw new Error(`${where} needs an API with a predictor; this one has pod (its own containers)`);
  }
  return spec.predictor;
}
