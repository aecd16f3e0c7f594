// Defaulting (kubebuilder's Default webhook): static defaults from the schema, then the ones
// computed from other fields, then normalisation of values Cortex accepted in looser forms.

import type { TSchema } from '@sinclair/typebox';
import { RealtimeApiSpecSchema, type RealtimeApiSpec, type RealtimeApiSpecInput } from './realtimeapi-types.ts';
import { childSchema, fieldsOf, isPlainObject } from './schema-walk.ts';

/**
 * Fills the schema's static defaults into `value` (mutating it), descending into objects that
 * are present or defaulted, like the API server's structural defaulting. Unlike TypeBox's
 * Value.Default it never turns a list into an object, so a wrong shape stays visible.
 */
function fillDefaults(schema: TSchema, value: unknown): unknown {
  const v = value === undefined && 'default' in schema ? structuredClone(schema.default) : value;
  const fields = fieldsOf(schema);
  if (fields && isPlainObject(v)) {
    for (const [key, field] of Object.entries(fields)) {
      const filled = fillDefaults(field, v[key]);
      if (filled !== undefined) v[key] = filled;
    }
  } else if (schema.type === 'array' && Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = fillDefaults(childSchema(schema, i)!, v[i]);
  }
  return v;
}

/** '/iris', 'iris', '/iris/' and '//iris' all become '/iris'; '/' stays '/'. */
export function canonicalEndpoint(endpoint: string): string {
  const trimmed = endpoint.trim().replace(/\/+/g, '/').replace(/\/$/, '');
  return trimmed.startsWith('/') ? trimmed || '/' : `/${trimmed}`;
}

/**
 * Returns a copy of `partialSpec` with every default filled in:
 * - static defaults from the schema (logLevel info, cpu 200m, maxReplicas 100, window 60s, ...);
 * - computed ones: autoscaling.initReplicas = minReplicas,
 *   autoscaling.targetReplicaConcurrency = processesPerReplica × threadsPerProcess (with pod:
 *   pod.maxConcurrency),
 *   networking.endpoint = `/<name>`;
 * - normalisation: a fractional number quantity becomes a string (cpu: 0.2 → '0.2', since a CRD
 *   int-or-string holds no floats), a digits-only maxSurge/maxUnavailable string becomes a number,
 *   the endpoint gets one leading slash and no trailing one.
 * Malformed input is defaulted as far as its shape allows and otherwise returned as is:
 * always run validateSpec on the result.
 */
export function applyDefaults(name: string, partialSpec: RealtimeApiSpecInput): RealtimeApiSpec {
  const input: unknown = partialSpec === undefined || partialSpec === null ? {} : structuredClone(partialSpec);
  const spec = fillDefaults(RealtimeApiSpecSchema, input);
  if (!isPlainObject(spec)) return spec as RealtimeApiSpec;

  const predictor = isPlainObject(spec.predictor) ? spec.predictor : {};
  const autoscaling = spec.autoscaling;
  if (isPlainObject(autoscaling)) {
    if (autoscaling.initReplicas === undefined && typeof autoscaling.minReplicas === 'number') {
      autoscaling.initReplicas = autoscaling.minReplicas;
    }
    const pod = isPlainObject(spec.pod) ? spec.pod : undefined;
    if (autoscaling.targetReplicaConcurrency === undefined && pod !== undefined) {
      // Cortex 0.42's target_in_flight defaulted to max_concurrency
      if (typeof pod.maxConcurrency === 'number') autoscaling.targetReplicaConcurrency = pod.maxConcurrency;
    } else if (autoscaling.targetReplicaConcurrency === undefined) {
      const processes = predictor.processesPerReplica ?? 1;
      const threads = predictor.threadsPerProcess ?? 1;
      const count = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1;
      if (count(processes) && count(threads))
        autoscaling.targetReplicaConcurrency = (processes as number) * (threads as number);
    }
  }

  const networking = spec.networking;
  if (isPlainObject(networking)) {
    if (networking.endpoint === undefined) networking.endpoint = `/${name}`;
    if (typeof networking.endpoint === 'string') networking.endpoint = canonicalEndpoint(networking.endpoint);
  }

  const compute = spec.compute;
  if (isPlainObject(compute)) {
    for (const key of ['cpu', 'mem']) {
      const q = compute[key];
      if (typeof q === 'number' && Number.isFinite(q) && !Number.isInteger(q)) compute[key] = String(q);
    }
  }

  const update = spec.updateStrategy;
  if (isPlainObject(update)) {
    for (const key of ['maxSurge', 'maxUnavailable']) {
      const v = update[key];
      if (typeof v === 'string' && /^[0-9]+$/.test(v.trim())) update[key] = Number(v);
    }
  }
  return spec as RealtimeApiSpec;
}
