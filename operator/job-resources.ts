// What the BatchJob and TaskJob controllers share: their resource types, the owner reference that
// makes a job its API's, the status they write to the /status subresource, its Complete
// condition, and the Kubernetes Job that runs it.
import {
  BATCH_JOB_KIND,
  BATCH_KIND,
  GROUP,
  JOB_NAMES,
  TASK_JOB_KIND,
  TASK_KIND,
  VERSION,
  type JobStatus,
} from './api/v1alpha1/index.ts';
import { isNotFound, type KubeClient, type KubeObject, type ResourceType } from './kube/client.ts';
import type { V1Job } from '@kubernetes/client-node';
import { JOBS } from './kube/resources.ts';
import { selectPool } from './node-pools.ts';
import type { NodePoolSource } from './node-pools-source.ts';
import { FIELD_MANAGER } from './reconcilers/apply.ts';
import type { ChildConfig, OperatorConfig } from './reconcilers/types.ts';
import { STATUS_FIELD_MANAGER } from './realtimeapi-controller.ts';

const resource = (kind: keyof typeof JOB_NAMES): ResourceType => ({
  group: GROUP,
  version: VERSION,
  kind,
  plural: JOB_NAMES[kind].plural,
});
export const BATCH_APIS = resource(BATCH_KIND);
export const BATCH_JOBS = resource(BATCH_JOB_KIND);
export const TASK_APIS = resource(TASK_KIND);
export const TASK_JOBS = resource(TASK_JOB_KIND);

export type JobObject<S> = KubeObject & {
  metadata: { name: string; namespace: string; uid: string; creationTimestamp?: string };
  spec: S;
  status?: JobStatus;
};
export type JobApiObject<S> = KubeObject & { metadata: { name: string; uid: string }; spec: S };

/** A stopped job's message (the local job runner's words too). */
export const STOP_MESSAGE = 'stopped by request (cortex delete API JOB_ID)';

/** Makes `job` its API's (deleting the API deletes its jobs and their pods), when it is not yet. */
export async function ownToApi(
  client: KubeClient,
  jobs: ResourceType,
  job: JobObject<unknown>,
  api: JobApiObject<unknown> & { kind?: string },
  apiKind: string,
): Promise<void> {
  if ((job.metadata.ownerReferences ?? []).some((r) => r.uid === api.metadata.uid)) return;
  const apiVersion = `${GROUP}/${VERSION}`;
  await client.apply(
    jobs,
    {
      apiVersion,
      kind: jobs.kind,
      metadata: {
        name: job.metadata.name,
        namespace: job.metadata.namespace,
        ownerReferences: [{ apiVersion, kind: apiKind, name: api.metadata.name, uid: api.metadata.uid }],
      },
    },
    { fieldManager: FIELD_MANAGER, force: true },
  );
}

/** The Complete condition: True with the status word's reason once the job ended. */
export function completeCondition(
  job: JobObject<unknown>,
  status: 'True' | 'False',
  reason: string,
  message: string,
): NonNullable<JobStatus['conditions']>[number] {
  const old = job.status?.conditions?.find((c) => c.type === 'Complete');
  const same = old?.status === status && old.reason === reason;
  return {
    type: 'Complete',
    status,
    reason,
    message,
    lastTransitionTime: same ? old.lastTransitionTime : new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

export async function writeJobStatus(
  client: KubeClient,
  jobs: ResourceType,
  job: JobObject<unknown>,
  status: JobStatus,
): Promise<void> {
  try {
    await client.apply(
      jobs,
      {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: jobs.kind,
        metadata: { name: job.metadata.name, namespace: job.metadata.namespace },
        status,
      },
      { fieldManager: STATUS_FIELD_MANAGER, force: true, subresource: 'status' },
    );
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/** The operator's child config with the node pool the API's compute selects. */
export function jobConfig(
  o: { config: OperatorConfig; nodePools: Pick<NodePoolSource, 'current'> },
  compute: { gpu?: number; nodeGroups?: string[] },
): ChildConfig {
  const choice = selectPool({ gpu: compute.gpu ?? 0, nodeGroups: compute.nodeGroups }, o.nodePools.current());
  return { ...o.config, placement: choice.placement ?? { pools: [], tolerations: [] } };
}

/** The job's Kubernetes Job (named like it): read, or created from `desired` when missing. */
export async function ensureJob(client: KubeClient, job: JobObject<unknown>, desired: () => V1Job): Promise<V1Job> {
  try {
    return await client.get<V1Job & KubeObject>(JOBS, job.metadata.namespace, job.metadata.name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  return client.create<V1Job & KubeObject>(JOBS, desired() as V1Job & KubeObject, FIELD_MANAGER);
}

/** Deletes the job's Kubernetes Job and its pods (stopped, timed out). */
export async function deleteJob(client: KubeClient, job: JobObject<unknown>): Promise<void> {
  try {
    await client.delete(JOBS, job.metadata.namespace, job.metadata.name, 'Background');
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}
