// The jobs of BatchAPIs and TaskAPIs in a cluster: `cortex submit` creates a BatchJob or TaskJob
// (named <api>-<id>) from Cortex's submission JSON, which the operator runs; `cortex get API
// [JOB_ID]` reads them back in the local environment's shape; `cortex delete API JOB_ID` deletes
// one (its Job and pods go with it).
import { BATCH_KIND, type JobApiKind } from '../../operator/api/v1alpha1/index.ts';
import { isNotFound } from '../../operator/kube/client.ts';
import { BATCH_APIS, TASK_APIS } from '../../operator/job-resources.ts';
import { jobResource, jobsOf, jobView as view, type JobResource } from '../../operator/job-view.ts';
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

export async function deleteClusterJob(conn: Connection, kind: JobApiKind, id: string): Promise<void> {
  await talk(conn, `deleting job ${id}`, () => conn.client.delete(jobsOf(kind), conn.namespace, id, 'Background'));
}
