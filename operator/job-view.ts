// A BatchJob or TaskJob resource as Cortex's job JSON (the local environment's shape), and the
// resource a submission becomes (named <api>-<id>). Shared by `cortex submit`/`cortex get` against
// a cluster (cli/cluster/jobs.ts) and the activator's job endpoint (activator/job-front.ts), so
// the CLI and an HTTP client see the same job.
import {
  BATCH_JOB_KIND,
  BATCH_KIND,
  GROUP,
  TASK_JOB_KIND,
  VERSION,
  type BatchJobSpec,
  type JobApiKind,
  type JobStatus,
  type TaskJobSpec,
} from './api/v1alpha1/index.ts';
import { HttpMethod } from '@kubernetes/client-node';
import { resourcePath, type KubeClient, type KubeObject, type ResourceType } from './kube/client.ts';
import { BATCH_JOBS, TASK_JOBS } from './job-resources.ts';
import { newJobId } from '../runtime/batch/job-keys.ts';
import type { BatchCounts, JobRecord } from '../runtime/batch/record.ts';
import { parseBatchSubmission, parseTaskSubmission } from '../runtime/batch/submission.ts';

export type JobResource = KubeObject & {
  metadata: { name: string; creationTimestamp?: string };
  spec: Partial<BatchJobSpec> & TaskJobSpec;
  status?: JobStatus;
};

/** A job as `cortex get API JOB_ID` and GET <endpoint>?jobID= show it: the record and the batch counts. */
export type JobView = JobRecord & { batch_metrics: BatchCounts | null };

/** The jobs' resource of an API kind. */
export const jobsOf = (kind: JobApiKind): ResourceType => (kind === BATCH_KIND ? BATCH_JOBS : TASK_JOBS);

export function jobView(kind: JobApiKind, o: JobResource): JobView {
  const s = o.status;
  return {
    job_id: o.metadata.name,
    api_name: o.spec.api,
    kind,
    workers: o.spec.workers ?? 1,
    config: o.spec.config ?? {},
    ...(o.spec.timeout !== undefined ? { timeout: o.spec.timeout } : {}),
    status: s?.status ?? 'pending',
    ...(s?.message ? { message: s.message } : {}),
    created_time: o.metadata.creationTimestamp ?? '',
    ...(s?.startTime ? { start_time: s.startTime } : {}),
    ...(s?.endTime ? { end_time: s.endTime } : {}),
    batch_metrics:
      kind === BATCH_KIND
        ? {
            total: s?.batches?.total ?? 0,
            enqueued: s?.batches?.enqueued ?? 0,
            succeeded: s?.batches?.succeeded ?? 0,
            failed: s?.batches?.failed ?? 0,
          }
        : null,
  };
}

/**
 * The BatchJob or TaskJob a submission (Cortex's JSON) of `api` becomes, named <api>-<new id>;
 * throws SubmissionError (naming the field and the fix) when the JSON is not a job.
 */
export function jobResource(kind: JobApiKind, api: string, namespace: string, body: unknown): JobResource {
  const spec = kind === BATCH_KIND ? parseBatchSubmission(api, body) : parseTaskSubmission(api, body);
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: kind === BATCH_KIND ? BATCH_JOB_KIND : TASK_JOB_KIND,
    metadata: { name: `${api}-${newJobId()}`, namespace },
    spec,
  };
}

/** Sets the job's spec.stop (a merge patch): its controller deletes its workers and writes status stopped. */
export async function setJobStop(
  client: KubeClient,
  kind: JobApiKind,
  namespace: string,
  id: string,
  fieldManager: string,
): Promise<void> {
  await client.request(HttpMethod.PATCH, resourcePath(jobsOf(kind), namespace, id), {
    body: { spec: { stop: true } },
    contentType: 'application/merge-patch+json',
    query: { fieldManager },
  });
}
