// BatchAPI and TaskAPI entries of cortex.yaml (docs/batch.md, docs/task.md): the same predictor
// (Cortex 0.34-0.35: handler; a TaskAPI's 0.28-0.35: definition), compute and networking.endpoint
// sections as a RealtimeAPI, read by the same loader; what only a RealtimeAPI has is refused here.

import {
  JOB_API_KINDS,
  isPlainObject,
  type JobApiKind,
  type JobApiSpec,
  type RealtimeApiSpec,
} from '../../operator/api/v1alpha1/index.ts';

export const isJobKind = (kind: unknown): kind is JobApiKind => JOB_API_KINDS.includes(kind as JobApiKind);

const FIELDS = ['name', 'kind', 'predictor', 'handler', 'definition', 'compute', 'networking'];

export interface JobFieldProblem {
  field: string[];
  message: string;
  fix: string;
}

/**
 * The job API as a RealtimeAPI's fields (definition read as predictor, whose type is python when not
 * written), and its fields a job API does not have.
 */
export function jobApiAsRealtime(
  raw: Record<string, unknown>,
  kind: JobApiKind,
): { api: Record<string, unknown>; problems: JobFieldProblem[] } {
  const problems: JobFieldProblem[] = [];
  const api: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (FIELDS.includes(key)) api[key] = value;
    else
      problems.push({
        field: [key],
        message: `is not a field of a ${kind}${key === 'autoscaling' ? ` (a job's workers set its parallelism)` : ''}`,
        fix: `remove it (a ${kind} has ${FIELDS.filter((f) => f !== 'handler' && f !== 'definition').join(', ')})`,
      });
  }
  if (Object.hasOwn(api, 'definition')) {
    const { definition, ...rest } = api;
    if (Object.hasOwn(api, 'predictor') || Object.hasOwn(api, 'handler')) {
      problems.push({
        field: ['definition'],
        message: 'both definition and predictor (or handler) are set; they are the same section',
        fix: 'keep one of them',
      });
    }
    Object.assign(api, rest, { predictor: definition });
    delete api.definition;
  }
  const section = Object.hasOwn(api, 'predictor') ? 'predictor' : 'handler';
  const predictor = api[section];
  if (isPlainObject(predictor) && predictor.type === undefined) api[section] = { ...predictor, type: 'python' };
  const networking = api.networking;
  if (isPlainObject(networking)) {
    for (const key of Object.keys(networking).filter((k) => k !== 'endpoint')) {
      problems.push({
        field: ['networking', key],
        message: `is not a field of a ${kind}'s networking`,
        fix: 'remove it (networking has endpoint only)',
      });
    }
    api.networking = { endpoint: networking.endpoint };
  }
  return { api, problems };
}

/** The job API's spec, from the RealtimeAPI-shaped spec the loader read. */
export function jobSpecOf(spec: RealtimeApiSpec): JobApiSpec {
  return {
    predictor: spec.predictor!,
    compute: spec.compute,
    networking: { endpoint: spec.networking.endpoint },
  };
}
