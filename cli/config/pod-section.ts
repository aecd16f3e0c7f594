// Cortex 0.36-0.42's names around the pod section (its container format), as the loader (load.ts)
// reads them into the RealtimeAPI spec: node_groups at the API's top level is compute.node_groups
// here, autoscaling.target_in_flight is autoscaling.target_replica_concurrency (the same
// number: in-flight requests per replica the autoscaler aims for), and compute.inf (Inferentia)
// in a container is refused unless 0. The rest of pod: maps field by field (snake-case.ts).

import { isPlainObject } from '../../operator/api/v1alpha1/index.ts';

export interface PodFormProblem {
  field: string[];
  message: string;
  fix: string;
}

/** The API with Cortex 0.42's names moved to this project's, and what cannot be moved. */
export function cortex042Fields(raw: Record<string, unknown>): {
  api: Record<string, unknown>;
  problems: PodFormProblem[];
} {
  const problems: PodFormProblem[] = [];
  const api: Record<string, unknown> = { ...raw };

  if (Object.hasOwn(api, 'node_groups')) {
    const { node_groups: groups, ...rest } = api;
    const compute = isPlainObject(rest.compute) ? rest.compute : {};
    if (Object.hasOwn(compute, 'node_groups')) {
      problems.push({
        field: ['node_groups'],
        message: 'is set twice: here (Cortex 0.36+) and as compute.node_groups (before 0.36)',
        fix: 'keep one of them',
      });
    } else if (groups !== null) {
      rest.compute = { ...compute, node_groups: groups };
    }
    Object.assign(api, rest);
    delete api.node_groups;
  }

  const autoscaling = api.autoscaling;
  if (isPlainObject(autoscaling) && Object.hasOwn(autoscaling, 'target_in_flight')) {
    const { target_in_flight: target, ...rest } = autoscaling;
    if (Object.hasOwn(rest, 'target_replica_concurrency')) {
      problems.push({
        field: ['autoscaling', 'target_in_flight'],
        message: 'is set together with target_replica_concurrency, its name before Cortex 0.36',
        fix: 'keep one of them',
      });
    } else {
      rest.target_replica_concurrency = target;
    }
    api.autoscaling = rest;
  }

  const pod = api.pod;
  if (isPlainObject(pod)) {
    if (isPlainObject(api.autoscaling) && Object.hasOwn(api.autoscaling, 'max_replica_concurrency')) {
      problems.push({
        field: ['autoscaling', 'max_replica_concurrency'],
        message:
          'does not apply to an API with pod: its proxy admits pod.max_concurrency and queues pod.max_queue_length',
        fix: 'remove it; set pod.max_concurrency and pod.max_queue_length instead',
      });
    }
    if (Array.isArray(pod.containers)) {
      api.pod = {
        ...pod,
        containers: pod.containers.map((c: unknown, i) => {
          if (!isPlainObject(c) || !isPlainObject(c.compute) || !Object.hasOwn(c.compute, 'inf')) return c;
          const { inf, ...compute } = c.compute;
          if (inf !== 0 && inf !== null) {
            problems.push({
              field: ['pod', 'containers', String(i), 'compute', 'inf'],
              message: 'not supported: compute.inf (AWS Inferentia chips)',
              fix: 'remove it and request cpu or gpu instead',
            });
          }
          return { ...c, compute };
        }),
      };
    }
  }
  return { api, problems };
}
