// The jobs of BatchAPIs and TaskAPIs in a cluster: `cortex submit` creates a BatchJob or TaskJob
// (named <api>-<id>) from Cortex's submission JSON, which the operator runs; `cortex get API
// [JOB_ID]` reads them back in the local environment's shape; `cortex delete API JOB_ID` stops
// one: it sets spec.stop, and the operator deletes its workers (the Kubernetes Job and its pods),
// drops its queued batches and writes status stopped. The resource stays, so `cortex get` still
// shows how it ended (deleting the API deletes its jobs). `cortex logs API JOB_ID`:
// cli/cluster/logs.ts, on the pods labelled with the job.
import {
  BATCH_JOB_KIND,
  BATCH_KIND,
  GROUP,
  TASK_JOB_KIND,
  VERSION,
  type BatchJobSpec,
  JOB_DONE_WORDS,
  type JobApiKind,
  type JobStatus,
  type JobStatusWord,
  type TaskJobSpec,
} from '../../operator/api/v1alpha1/index.ts';
import { HttpMethod } from '@kubernetes/client-node';
import { isNotFound, resourcePath, type KubeObject } from '../../operator/kube/client.ts';
import { BATCH_APIS, BATCH_JOBS, TASK_APIS, TASK_JOBS } from '../../operator/job-resources.ts';
import { newJobId } from '../../runtime/batch/job-keys.ts';
import { parseBatchSubmission, parseTaskSubmission, SubmissionError } from '../../runtime/batch/submission.ts';
import { CliError, ExitCode } from '../errors.ts';
import type { LocalJob } from '../local/jobs.ts';
import { FIELD_MANAGER, talk, type Connection } from './connect.ts';

type JobResource = KubeObject & {
  metadata: { name: string; creationTimestamp?: string };
  spec: Partial<BatchJobSpec> & TaskJobSpec;
  status?: JobStatus;
};

/** BatchAPI or TaskAPI when `api` is one in the namespace, else undefined. */
export async function clusterJobApiKind(conn: Connection, api: string): Promise<JobApiKind | undefined> {
  for (const [r, kind] of [
    [BATCH_APIS, BATCH_KIND],
    [TASK_APIS, 'TaskAPI'],
  ] as const) {
    try {
      await conn.client.get(r, conn.namespace, api);
      return kind;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  return undefined;
}

const jobsOf = (kind: JobApiKind) => (kind === BATCH_KIND ? BATCH_JOBS : TASK_JOBS);

function view(kind: JobApiKind, o: JobResource): LocalJob {
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

export async function submitClusterJob(
  conn: Connection,
  api: string,
  kind: JobApiKind,
  body: unknown,
): Promise<LocalJob> {
  let spec: BatchJobSpec | TaskJobSpec;
  try {
    spec = kind === BATCH_KIND ? parseBatchSubmission(api, body) : parseTaskSubmission(api, body);
  } catch (error) {
    if (error instanceof SubmissionError) throw new CliError(`job submission: ${error.message}`, ExitCode.Usage);
    throw error;
  }
  const resource = {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: kind === BATCH_KIND ? BATCH_JOB_KIND : TASK_JOB_KIND,
    metadata: { name: `${api}-${newJobId()}`, namespace: conn.namespace },
    spec,
  };
  const created = await talk(conn, `creating a ${resource.kind}`, () =>
    conn.client.create<JobResource>(jobsOf(kind), resource as JobResource, FIELD_MANAGER),
  );
  return view(kind, created);
}

export async function clusterJob(conn: Connection, kind: JobApiKind, id: string): Promise<LocalJob | undefined> {
  try {
    return view(kind, await conn.client.get<JobResource>(jobsOf(kind), conn.namespace, id));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export async function clusterJobs(conn: Connection, api: string, kind: JobApiKind): Promise<LocalJob[]> {
  const list = await talk(conn, 'listing jobs', () => conn.client.list<JobResource>(jobsOf(kind), conn.namespace));
  return list.items
    .filter((o) => o.spec.api === api)
    .map((o) => view(kind, o))
    .sort((a, b) => (a.created_time < b.created_time ? 1 : -1));
}

/**
 * Stops the job (spec.stop=true, a merge patch the operator acts on); undefined: no such job. A job
 * that had ended is left as it is: its status word is returned.
 */
export async function stopClusterJob(
  conn: Connection,
  kind: JobApiKind,
  id: string,
): Promise<{ stopping: boolean; status: JobStatusWord } | undefined> {
  const job = await talk(conn, `reading job ${id}`, () => clusterJob(conn, kind, id));
  if (job === undefined) return undefined;
  if (JOB_DONE_WORDS.includes(job.status)) return { stopping: false, status: job.status };
  await talk(conn, `stopping job ${id}`, () =>
    conn.client.request(HttpMethod.PATCH, resourcePath(jobsOf(kind), conn.namespace, id), {
      body: { spec: { stop: true } },
      contentType: 'application/merge-patch+json',
      query: { fieldManager: FIELD_MANAGER },
    }),
  );
  return { stopping: true, status: job.status };
}
