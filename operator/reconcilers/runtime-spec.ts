// The handoff from the operator to the runtime: every replica's container gets, in CORTEX_API_SPEC,
// the part of the RealtimeAPI it reconciled (defaulted and validated) that `cortex serve` runs:
// name, predictor, autoscaling.maxReplicaConcurrency. `cortex serve` with it set builds its
// settings from it, not from a cortex.yaml in the project folder (which the CLI reads, and which
// an image-only API need not have), so `kubectl edit`/GitOps changes of the resource reach the
// replicas. The autoscaling fields the HPA reads are left out: changing them rolls no pod.
//
// Why an environment variable (not a file from a downwardAPI annotation or a ConfigMap): the
// container command and env are the whole contract, visible in the pod, with no extra object to
// keep in step with the pod template. Linux caps one environment string at 128 KiB
// (MAX_ARG_STRLEN), so the spec is limited to RUNTIME_SPEC_MAX_BYTES and a larger one (a huge
// predictor.config) is reported in the RealtimeAPI's status instead of a pod that cannot start.

import {
  API_VERSION,
  KIND,
  applyDefaults,
  predictorOf,
  validateSpec,
  type PredictorSpec,
  type RealtimeApiSpec,
  type RealtimeApiSpecInput,
  type SpecIssue,
} from '../api/v1alpha1/index.ts';

/** The environment variable of the replica's container that holds the RuntimeApi as JSON. */
export const RUNTIME_SPEC_ENV = 'CORTEX_API_SPEC';
/** Largest RuntimeApi JSON (UTF-8 bytes): under Linux's 128 KiB per environment string, with room to spare. */
export const RUNTIME_SPEC_MAX_BYTES = 96 * 1024;

/** What a replica runs: a RealtimeAPI reduced to the fields the runtime reads. */
export interface RuntimeApi {
  apiVersion: string;
  kind: string;
  /**
   * No namespace: the runtime does not need it, and the same API in two namespaces (a GitOps
   * copy) gets the same pod template.
   */
  metadata: { name: string };
  spec: {
    predictor: PredictorSpec;
    autoscaling: Pick<RealtimeApiSpec['autoscaling'], 'maxReplicaConcurrency'>;
    /** An AsyncAPI's settings: the replica works the queue and serves the front (runtime/replica.ts). */
    async?: RealtimeApiSpec['async'];
  };
}

/** The runtime's part of a defaulted spec. */
export function runtimeApi(name: string, spec: RealtimeApiSpec): RuntimeApi {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name },
    spec: {
      predictor: predictorOf(spec, 'the runtime spec'),
      autoscaling: { maxReplicaConcurrency: spec.autoscaling.maxReplicaConcurrency },
      ...(spec.async ? { async: spec.async } : {}),
    },
  };
}

/** The issue of a spec whose runtime part is over RUNTIME_SPEC_MAX_BYTES, for the status. */
export function runtimeSpecIssue(json: string): SpecIssue | undefined {
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes <= RUNTIME_SPEC_MAX_BYTES) return undefined;
  const kib = (n: number) => `${Math.ceil(n / 1024)} KiB`;
  return {
    path: ['predictor', 'config'],
    message:
      `makes the settings handed to every replica ${kib(bytes)} as JSON (with the rest of predictor), ` +
      `over the ${kib(RUNTIME_SPEC_MAX_BYTES)} a container's environment variable holds`,
    fix: 'keep large data in the project folder (or the image) and put its path in predictor.config',
  };
}

export class RuntimeSpecError extends Error {}

/**
 * Reads CORTEX_API_SPEC: the name and the defaulted, validated spec to serve. `wanted` (--api)
 * must match the name when given. Throws RuntimeSpecError with every problem found.
 */
export function parseRuntimeSpec(json: string, wanted?: string): { name: string; spec: RealtimeApiSpec } {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new RuntimeSpecError(`${RUNTIME_SPEC_ENV} is not JSON: ${(error as Error).message}`);
  }
  const obj = (value ?? {}) as Partial<RuntimeApi>;
  const name = obj.metadata?.name;
  if (typeof name !== 'string' || name === '') {
    throw new RuntimeSpecError(`${RUNTIME_SPEC_ENV} has no metadata.name`);
  }
  if (wanted !== undefined && wanted !== name) {
    throw new RuntimeSpecError(`${RUNTIME_SPEC_ENV} is the API "${name}", not "${wanted}" (--api)`);
  }
  // defaulted again: an older operator may have left out fields this runtime defaults
  const spec = applyDefaults(name, obj.spec as RealtimeApiSpecInput);
  const issues = validateSpec(spec);
  if (issues.length > 0) {
    const lines = issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new RuntimeSpecError(`${RUNTIME_SPEC_ENV} of ${name} is not a valid spec:\n${lines.join('\n')}`);
  }
  return { name, spec };
}
