// The Indexed Kubernetes Job of a BatchJob: `workers` pods running `cortex batch-worker`
// (runtime/batch/worker-main.ts) on the BatchAPI's project, with the pod template a RealtimeAPI's
// replica would get (image, bundle, dependency cache, resources, node pools: deployment.ts), less
// what serving needs (ports, probes, the preStop sleep), and labelled as the job's, not an API's
// (a RealtimeAPI's Service must never select them).
import type { V1Container, V1Job } from '@kubernetes/client-node';
import {
  API_VERSION,
  BATCH_JOB_KIND,
  applyDefaults,
  type BatchApiSpec,
  type BatchJobSpec,
} from '../api/v1alpha1/index.ts';
import { WORKER_ENV, type WorkerEnv } from '../../runtime/batch/job-keys.ts';
import { CONTAINER_NAME, PROJECT_DIR, desiredDeployment, pruneUndefined } from './deployment.ts';
import { MANAGED_BY_LABEL } from '../kube/resources.ts';
import { MANAGED_BY, type ChildConfig } from './types.ts';

export const BATCH_API_LABEL = 'cortex.dev/batch-api';
export const JOB_LABEL = 'cortex.dev/batch-job';

export interface BatchJobInstance {
  name: string;
  namespace: string;
  uid: string;
  spec: BatchJobSpec;
}

export function desiredBatchWorkers(
  job: BatchJobInstance,
  api: { name: string; spec: BatchApiSpec },
  queueUrl: string,
  config: ChildConfig,
): V1Job {
  // the replica a RealtimeAPI with this predictor and compute would have
  const asApi = applyDefaults(api.name, { predictor: api.spec.predictor, compute: api.spec.compute });
  const replica = desiredDeployment(
    { name: api.name, namespace: job.namespace, uid: job.uid, generation: 0, spec: asApi },
    config,
  );
  const pod = replica.spec!.template.spec!;
  const worker: WorkerEnv = {
    queue_url: queueUrl,
    api: api.name,
    job_id: job.name,
    project_dir: PROJECT_DIR,
    spec: api.spec,
  };
  const containers = pod.containers.map((c): V1Container => {
    if (c.name !== CONTAINER_NAME) return c;
    const { ports: _p, startupProbe: _s, livenessProbe: _l, readinessProbe: _r, lifecycle: _c, ...rest } = c;
    return {
      ...rest,
      command: ['cortex', 'batch-worker'],
      env: [...(c.env ?? []), { name: WORKER_ENV, value: JSON.stringify(worker) }],
    };
  });
  const labels = { [BATCH_API_LABEL]: api.name, [JOB_LABEL]: job.name, [MANAGED_BY_LABEL]: MANAGED_BY };
  return pruneUndefined({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: job.name,
      namespace: job.namespace,
      labels,
      ownerReferences: [
        {
          apiVersion: API_VERSION,
          kind: BATCH_JOB_KIND,
          name: job.name,
          uid: job.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      completionMode: 'Indexed',
      completions: job.spec.workers,
      parallelism: job.spec.workers,
      // a worker that dies is started again (its held batch is taken by another meanwhile)
      backoffLimitPerIndex: 3,
      maxFailedIndexes: job.spec.workers,
      ...(job.spec.timeout !== undefined ? { activeDeadlineSeconds: job.spec.timeout } : {}),
      template: {
        metadata: { labels },
        spec: {
          ...pod,
          containers,
          restartPolicy: 'Never',
          topologySpreadConstraints: undefined,
          terminationGracePeriodSeconds: 30,
        },
      },
    },
  });
}
