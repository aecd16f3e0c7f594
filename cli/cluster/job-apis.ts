// The BatchAPIs and TaskAPIs of a namespace as `cortex get` lists them (kind, jobs not ended,
// endpoint) and `cortex delete API` removes one: its BatchJobs or TaskJobs are owned by it, so
// the cluster's garbage collector deletes them (and their workers) with it.
import {
  BATCH_KIND,
  JOB_DONE_WORDS,
  TASK_KIND,
  type JobApiKind,
  type JobStatus,
} from '../../operator/api/v1alpha1/index.ts';
import { isNotFound, type KubeObject, type ResourceType } from '../../operator/kube/client.ts';
import { BATCH_APIS, BATCH_JOBS, TASK_APIS, TASK_JOBS } from '../../operator/job-resources.ts';
import { CliError, ExitCode } from '../errors.ts';
import { explain, talk, type Connection } from './connect.ts';

export interface JobApiView {
  name: string;
  namespace: string;
  kind: JobApiKind;
  /** Jobs of the API that have not ended (pending, enqueuing, running). */
  activeJobs: number;
  /** URL path where jobs are submitted (spec.networking.endpoint). */
  path: string;
  created?: string;
}

const KINDS: { kind: JobApiKind; apis: ResourceType; jobs: ResourceType }[] = [
  { kind: BATCH_KIND, apis: BATCH_APIS, jobs: BATCH_JOBS },
  { kind: TASK_KIND, apis: TASK_APIS, jobs: TASK_JOBS },
];

type ApiObject = KubeObject & { spec?: { networking?: { endpoint?: string } } };
type JobObject = KubeObject & { spec?: { api?: string }; status?: JobStatus };

/** The items of `resource`, none when the cluster lacks its CRD (a chart older than the job kinds). */
async function listOrNone<T extends KubeObject>(conn: Connection, resource: ResourceType): Promise<T[]> {
  try {
    return (await conn.client.list<T>(resource, conn.namespace)).items;
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

export async function listJobApis(conn: Connection): Promise<JobApiView[]> {
  const views: JobApiView[] = [];
  await talk(conn, `listing the job APIs of ${conn.env.name}`, async () => {
    for (const { kind, apis, jobs } of KINDS) {
      const items = await listOrNone<ApiObject>(conn, apis);
      if (items.length === 0) continue;
      const active = new Map<string, number>();
      for (const j of await listOrNone<JobObject>(conn, jobs)) {
        const word = j.status?.status;
        if (j.spec?.api === undefined || (word !== undefined && JOB_DONE_WORDS.includes(word))) continue;
        active.set(j.spec.api, (active.get(j.spec.api) ?? 0) + 1);
      }
      for (const o of items) {
        const name = o.metadata?.name ?? '';
        views.push({
          name,
          namespace: conn.namespace,
          kind,
          activeJobs: active.get(name) ?? 0,
          path: o.spec?.networking?.endpoint ?? `/${name}`,
          ...(o.metadata?.creationTimestamp ? { created: String(o.metadata.creationTimestamp) } : {}),
        });
      }
    }
  });
  return views.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Deletes the BatchAPI or TaskAPI `name` and waits until it and the jobs it owns are gone;
 * undefined when there is no job API of that name (it may be a RealtimeAPI).
 */
export async function deleteJobApi(
  conn: Connection,
  name: string,
  options: { waitMs?: number } = {},
): Promise<JobApiKind | undefined> {
  for (const { kind, apis, jobs } of KINDS) {
    let uid: string | undefined;
    try {
      uid = (await conn.client.get(apis, conn.namespace, name)).metadata?.uid;
    } catch (error) {
      if (isNotFound(error)) continue; // no such API, or no such CRD
      throw explain(conn, error, `reading ${name}`);
    }
    await talk(conn, `deleting ${name}`, async () => {
      try {
        await conn.client.delete(apis, conn.namespace, name, 'Background');
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    });
    const waitMs = options.waitMs ?? 60_000;
    const deadline = Date.now() + waitMs;
    for (;;) {
      const left = await talk(conn, `deleting ${name}`, async () => {
        let api = true;
        try {
          await conn.client.get(apis, conn.namespace, name);
        } catch (error) {
          if (!isNotFound(error)) throw error;
          api = false;
        }
        const owned = (await listOrNone<JobObject>(conn, jobs)).filter((j) =>
          (j.metadata?.ownerReferences ?? []).some((r) => r.uid === uid),
        );
        return api || owned.length > 0;
      });
      if (!left) return kind;
      if (Date.now() > deadline)
        throw new CliError(
          `${kind} ${name} or its jobs are still being deleted after ${Math.round(waitMs / 1000)} s ` +
            `(the garbage collector is slow, or finalizers hold them); check with cortex get -e ${conn.env.name}`,
          ExitCode.Failed,
        );
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return undefined;
}
