// The Kubernetes Job of a BatchJob (Indexed: `workers` pods running `cortex batch-worker`,
// runtime/batch/worker-main.ts) or of a TaskJob (one pod running `cortex task-runner`), on its
// API's project, with the pod template a RealtimeAPI's replica would get (image, bundle,
// dependency cache, resources, node pools: deployment.ts), less what serving needs (ports,
// probes, the preStop sleep), and labelled as the job's, not an API's (a RealtimeAPI's Service
// must never select them).
import type { V1Container, V1EnvVar, V1Job } from '@kubernetes/client-node';
import {
  API_VERSION,
  BATCH_JOB_KIND,
  TASK_JOB_KIND,
  applyDefaults,
  type BatchApiSpec,
  type BatchJobSpec,
  type TaskApiSpec,
  type TaskJobSpec,
} from '../api/v1alpha1/index.ts';
import { TASK_ENV, type TaskEnv } from '../../runtime/task/task-keys.ts';
import { WORKER_ENV, type WorkerEnv } from '../../runtime/batch/job-keys.ts';
import { CONTAINER_NAME, PROJECT_DIR, desiredDeployment, pruneUndefined } from './deployment.ts';
import { MANAGED_BY_LABEL } from '../kube/resources.ts';
import { MANAGED_BY, type ChildConfig } from './types.ts';

/** The API a job's pods run, and the job (BatchJob or TaskJob) they belong to. */
export const JOB_API_LABEL = 'cortex.dev/job-api';
export const JOB_LABEL = 'cortex.dev/job';

export interface BatchJobInstance {
  name: string;
  namespace: string;
  uid: string;
  spec: BatchJobSpec;
}

/** The pods of a job of `api`: the replica's pod template less serving, running `command` with `env` added. */
export function jobOf(
  owner: { kind: string; name: string; namespace: string; uid: string },
  api: { name: string; spec: Pick<BatchApiSpec, 'predictor' | 'compute'> },
  run: { command: string[]; env: V1EnvVar; pods: number; timeout?: number; retries: number },
  config: ChildConfig,
): V1Job {
  // the replica a RealtimeAPI with this predictor and compute would have
  const asApi = applyDefaults(api.name, { predictor: api.spec.predictor, compute: api.spec.compute });
  const instance = { name: api.name, namespace: owner.namespace, uid: owner.uid, generation: 0, spec: asApi };
  const pod = desiredDeployment(instance, config).spec!.template.spec!;
  const containers = pod.containers.map((c): V1Container => {
    if (c.name !== CONTAINER_NAME) return c;
    const { ports: _p, startupProbe: _s, livenessProbe: _l, readinessProbe: _r, lifecycle: _c, ...rest } = c;
    return { ...rest, command: run.command, env: [...(c.env ?? []), run.env] };
  });
  const labels = { [JOB_API_LABEL]: api.name, [JOB_LABEL]: owner.name, [MANAGED_BY_LABEL]: MANAGED_BY };
  return pruneUndefined({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: owner.name,
      namespace: owner.namespace,
      labels,
      ownerReferences: [
        {
          apiVersion: API_VERSION,
          kind: owner.kind,
          name: owner.name,
          uid: owner.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      completionMode: 'Indexed',
      completions: run.pods,
      parallelism: run.pods,
      backoffLimitPerIndex: run.retries,
      maxFailedIndexes: run.pods,
      ...(run.timeout !== undefined ? { activeDeadlineSeconds: run.timeout } : {}),
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

/** A BatchJob's workers: `workers` pods of `cortex batch-worker`; one that dies is started again (3 times). */
export function desiredBatchWorkers(
  job: BatchJobInstance,
  api: { name: string; spec: BatchApiSpec },
  queueUrl: string,
  config: ChildConfig,
): V1Job {
  const worker: WorkerEnv = {
    queue_url: queueUrl,
    api: api.name,
    job_id: job.name,
    project_dir: PROJECT_DIR,
    spec: api.spec,
  };
  return jobOf(
    { kind: BATCH_JOB_KIND, ...job },
    api,
    {
      command: ['cortex', 'batch-worker'],
      env: { name: WORKER_ENV, value: JSON.stringify(worker) },
      pods: job.spec.workers,
      timeout: job.spec.timeout,
      retries: 3,
    },
    config,
  );
}

/** A TaskJob's run: one pod of `cortex task-runner`, not retried (a task may not be idempotent). */
export function desiredTaskRun(
  job: { name: string; namespace: string; uid: string; spec: TaskJobSpec },
  api: { name: string; spec: TaskApiSpec },
  config: ChildConfig,
): V1Job {
  const task: TaskEnv = { api: api.name, job_id: job.name, project_dir: PROJECT_DIR, spec: api.spec, job: job.spec };
  return jobOf(
    { kind: TASK_JOB_KIND, ...job },
    api,
    {
      command: ['cortex', 'task-runner'],
      env: { name: TASK_ENV, value: JSON.stringify(task) },
      pods: 1,
      timeout: job.spec.timeout,
      retries: 0,
    },
    config,
  );
}
