// The jobs of BatchAPIs and TaskAPIs in a cluster: `cortex submit` creates a BatchJob or TaskJob
// (named <api>-<id>) from Cortex's submission JSON, which the operator runs; `cortex get API
// [JOB_ID]` reads them back in the local environment's shape; `cortex delete API JOB_ID` stops
// one: it sets spec.stop, and the operator deletes its workers (the Kubernetes Job and its pods),
// drops its queued batches and writes status stopped. The resource stays, so `cortex get` still
// shows how it ended (deleting the API deletes its jobs). `cortex logs API JOB_ID`:
// cli/cluster/logs.ts, on the pods labelled with the job.
import { BATCH_KIND, JOB_DONE_WORDS, type JobApiKind, type JobStatusWord } from '../../operator/api/v1alpha1/index.ts';
import { isNotFound } from '../../operator/kube/client.ts';
import { BATCH_APIS, TASK_APIS } from '../../operator/job-resources.ts';
import { jobResource, jobsOf, jobView as view, setJobStop, type JobResource } from '../../operator/job-view.ts';
import { SubmissionError } from '../../runtime/batch/submission.ts';
import { CliError, ExitCode } from '../errors.ts';
import type { LocalJob } from '../local/jobs.ts';
import { FIELD_MANAGER, talk, type Connection } from './connect.ts';

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

export async function submitClusterJob(
  conn: Connection,
  api: string,
  kind: JobApiKind,
  body: unknown,
): Promise<LocalJob> {
  let resource: JobResource;
  try {
    resource = jobResource(kind, api, conn.namespace, body);
  } catch (error) {
    if (error instanceof SubmissionError) throw new CliError(`job submission: ${error.message}`, ExitCode.Usage);
    throw error;
  }
  const created = await talk(conn, `creating a ${resource.kind}`, () =>
    conn.client.create<JobResource>(jobsOf(kind), resource, FIELD_MANAGER),
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
  await talk(conn, `stopping job ${id}`, () => setJobStop(conn.client, kind, conn.namespace, id, FIELD_MANAGER));
  return { stopping: true, status: job.status };
}
