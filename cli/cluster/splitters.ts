// The TrafficSplitters of a cortex.yaml in a cluster: the objects (`cortex deploy` and `cortex
// render` write the same), the check that every API a splitter names is in the file or already
// in the namespace (before anything is written), the dry run and the apply.
import {
  API_VERSION,
  ASYNC_KIND,
  BATCH_KIND,
  KIND,
  SPLITTER_KIND,
  TASK_KIND,
  type TrafficSplitterSpec,
} from '../../operator/api/v1alpha1/index.ts';
import { isNotFound, type KubeObject, type ResourceType } from '../../operator/kube/client.ts';
import { BATCH_APIS, TASK_APIS } from '../../operator/job-resources.ts';
import { MANAGED_BY_LABEL, REALTIME_APIS } from '../../operator/kube/resources.ts';
import { canonicalEndpoint } from '../../operator/api/v1alpha1/index.ts';
import { TRAFFIC_SPLITTERS } from '../../operator/trafficsplitter-controller.ts';
import type { LoadedProject } from '../config/index.ts';
import { CliError, ExitCode } from '../errors.ts';
import { FIELD_MANAGER, type Connection } from './connect.ts';
import { MANAGED_BY_CLI } from './manifests.ts';

export interface SplitterObject extends KubeObject {
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
  spec: TrafficSplitterSpec;
}

export function trafficSplitters(project: LoadedProject, namespace: string | undefined): SplitterObject[] {
  return project.splitters.map((s) => ({
    apiVersion: API_VERSION,
    kind: SPLITTER_KIND,
    metadata: {
      name: s.name,
      ...(namespace !== undefined ? { namespace } : {}),
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_CLI },
    },
    spec: s.spec,
  }));
}

/** Refuses a splitter naming an API that is neither in the file nor in the namespace, with where and how. */
export async function checkSplitterTargets(conn: Connection, project: LoadedProject): Promise<void> {
  const inFile = new Set(project.apis.map((a) => a.name));
  const problems: string[] = [];
  for (const s of project.splitters) {
    for (const [i, target] of s.spec.apis.entries()) {
      if (inFile.has(target.name)) continue;
      try {
        await conn.client.get(REALTIME_APIS, conn.namespace, target.name);
      } catch (error) {
        if (!isNotFound(error)) throw error;
        problems.push(
          `${project.file}:${s.line}: TrafficSplitter ${s.name}: apis.${i}.name: no RealtimeAPI ${target.name} ` +
            `in this file or in namespace ${conn.namespace} of ${conn.env.name}; ` +
            'add it to the file, deploy it first, or remove it from the splitter',
        );
      }
    }
  }
  if (problems.length > 0) throw new CliError(`${problems.join('\n')}\nnothing was deployed`, ExitCode.Usage);
}

export async function dryRunSplitters(conn: Connection, objects: SplitterObject[]): Promise<void> {
  for (const o of objects)
    await conn.client.apply(TRAFFIC_SPLITTERS, o, { fieldManager: FIELD_MANAGER, force: true, dryRun: true });
}

export async function applySplitters(conn: Connection, objects: SplitterObject[]): Promise<void> {
  for (const o of objects) await conn.client.apply(TRAFFIC_SPLITTERS, o, { fieldManager: FIELD_MANAGER, force: true });
}

/** Deletes the TrafficSplitter `name` (its HTTPRoute goes with it; its APIs stay); false when there is none. */
export async function deleteSplitter(conn: Connection, name: string): Promise<boolean> {
  try {
    await conn.client.delete(TRAFFIC_SPLITTERS, conn.namespace, name);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/**
 * Refuses an API or splitter of the file whose endpoint another API or splitter of the namespace
 * (not one of the file's, which the deploy updates) already serves: on a shared Gateway only one
 * route can have it. BatchAPIs and TaskAPIs count too: their endpoint is where jobs are submitted.
 */
export async function checkEndpointsFree(conn: Connection, project: LoadedProject): Promise<void> {
  const mine = new Set(
    [...project.apis, ...project.jobApis, ...project.splitters].map(
      (a) => `${a.kind === ASYNC_KIND ? KIND : a.kind}/${a.name}`,
    ),
  );
  const taken = new Map<string, string>();
  const kinds: [ResourceType, string][] = [
    [REALTIME_APIS, KIND],
    [BATCH_APIS, BATCH_KIND],
    [TASK_APIS, TASK_KIND],
    [TRAFFIC_SPLITTERS, SPLITTER_KIND],
  ];
  for (const [resource, kind] of kinds) {
    let items: (KubeObject & { spec?: { networking?: { endpoint?: string } } })[];
    try {
      items = (
        await conn.client.list<KubeObject & { spec?: { networking?: { endpoint?: string } } }>(resource, conn.namespace)
      ).items;
    } catch (error) {
      // a cluster without that kind's CRD has none of it (the RealtimeAPI's is checked first by env configure)
      if (kind !== KIND && isNotFound(error)) continue;
      throw error;
    }
    for (const o of items) {
      const name = o.metadata?.name ?? '';
      if (!mine.has(`${kind}/${name}`))
        taken.set(canonicalEndpoint(o.spec?.networking?.endpoint ?? `/${name}`), `${kind} ${name}`);
    }
  }
  const problems: string[] = [];
  for (const item of [...project.apis, ...project.jobApis, ...project.splitters]) {
    const holder = taken.get(item.spec.networking.endpoint ?? `/${item.name}`);
    if (holder)
      problems.push(
        `${project.file}:${item.line}: ${item.kind} ${item.name}: networking.endpoint: ` +
          `${item.spec.networking.endpoint} is already served by ${holder} in namespace ${conn.namespace}; ` +
          'set networking.endpoint to a path no other API uses, or delete that one',
      );
  }
  if (problems.length > 0) throw new CliError(`${problems.join('\n')}\nnothing was deployed`, ExitCode.Usage);
}
