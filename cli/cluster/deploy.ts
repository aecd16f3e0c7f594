// `cortex deploy` against a kubernetes environment, without the printing: validate and pack
// everything first, have the API server validate every object (dry run) before writing any,
// then store the bundle and server-side apply the RealtimeAPIs, BatchAPIs and TaskAPIs. Nothing
// is half-applied: a bad object stops the deploy before the first write.
import { ConfigError, explainConfigError, formatIssue, loadProject, type LoadedProject } from '../config/index.ts';
import { KIND } from '../../operator/api/v1alpha1/index.ts';
import { CONFIG_MAPS } from '../../operator/kube/resources.ts';
import { KubeError, isConflict, isNotFound, type KubeObject } from '../../operator/kube/client.ts';
import { CliError, ExitCode } from '../errors.ts';
import { bytes, plural } from '../output.ts';
import { bundleObjects, packProject, type PackedProject } from './pack.ts';
import { FIELD_MANAGER, talk, type Connection } from './connect.ts';
import {
  jobApiObjects,
  needsBundle,
  realtimeApis,
  resourceOf,
  type JobApiObject,
  type RealtimeApiObject,
} from './manifests.ts';
import type { DeployReporter } from '../local/deploy.ts';
import {
  applySplitters,
  checkEndpointsFree,
  checkSplitterTargets,
  dryRunSplitters,
  trafficSplitters,
} from './splitters.ts';

/** What a cluster deploy reports: the same steps and warnings as a local one. */
export type ClusterDeployReporter = Pick<DeployReporter, 'step' | 'warning'>;

export type Plan = 'creating' | 'updating' | 'up to date';

export interface ClusterDeployResult {
  api: string;
  /** RealtimeAPI, BatchAPI or TaskAPI: a job API has no replicas to wait for. */
  kind: string;
  plan: Plan;
  /** metadata.generation after the apply: the status is current once observedGeneration reaches it. */
  generation: number;
  endpoint: string;
}

/** Loads the project, turning config problems into one CliError that lists them all. */
export function loadOrExplain(config: string): LoadedProject {
  try {
    return loadProject(config);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(explainConfigError(error), ExitCode.Usage);
    throw error;
  }
}

/** The API server's reason a dry run failed, naming the object (or the namespace, when it is missing). */
function rejected(obj: KubeObject, error: unknown, file: string, conn: Connection): CliError | undefined {
  if (error instanceof KubeError && error.code === 404 && /namespaces? "[^"]+" not found/.test(error.serverMessage)) {
    return new CliError(
      `namespace ${conn.namespace} does not exist in environment ${conn.env.name}; ` +
        `create it (kubectl create namespace ${conn.namespace}) ` +
        `or choose another: cortex env configure ${conn.env.name} --namespace <ns>`,
      ExitCode.Failed,
    );
  }
  if (
    error instanceof KubeError &&
    error.code === 404 &&
    obj.metadata?.name !== undefined &&
    obj.kind !== 'ConfigMap'
  ) {
    // the resource itself is unknown: the chart that installed the operator predates the kind
    return new CliError(
      `${file}: ${conn.env.name} has no ${obj.kind} resource (its CRD is not installed); ` +
        'upgrade the Cortex chart there (helm upgrade: its crds/ hold every kind), then deploy again; ' +
        'nothing was changed',
      ExitCode.Failed,
    );
  }
  if (!(error instanceof KubeError) || (error.code !== 422 && error.code !== 400)) return undefined;
  const what = obj.kind === KIND ? `API ${obj.metadata?.name}` : `${obj.kind} ${obj.metadata?.name}`;
  return new CliError(
    `${file}: the cluster rejected ${what}: ${error.serverMessage}; nothing was changed`,
    ExitCode.Usage,
  );
}

export async function deployToCluster(
  options: { config: string; conn: Connection; noBundle?: boolean },
  reporter: ClusterDeployReporter,
): Promise<{ projectDir: string; results: ClusterDeployResult[] }> {
  const { conn } = options;
  const { client, namespace } = conn;
  const project = loadOrExplain(options.config);
  for (const w of project.warnings) reporter.warning(formatIssue(w));

  let packed: PackedProject | undefined;
  // pod APIs run their own images: a project of only those has no code to upload
  if (!options.noBundle && needsBundle(project)) {
    const step = reporter.step('packing the project');
    packed = await packProject(project).catch((error: unknown) => {
      step.fail();
      throw error;
    });
    step.done(`${plural(packed.files, 'file')}, ${bytes(packed.size)}, sha256 ${packed.spec.sha256.slice(0, 12)}`);
  }
  const apis: (RealtimeApiObject | JobApiObject)[] = [
    ...realtimeApis(project, packed?.spec, namespace),
    ...jobApiObjects(project, packed?.spec, namespace),
  ];
  const configMaps = packed ? bundleObjects(packed, namespace) : [];
  const splitters = trafficSplitters(project, namespace);

  const check = reporter.step(`checking with the cluster (namespace ${namespace})`);
  const plans = await talk(conn, `deploying to ${conn.env.name}`, async () => {
    // Every object through the API server's validation (schema, CEL rules, admission) first.
    for (const cm of configMaps) {
      try {
        await client.create(CONFIG_MAPS, cm, FIELD_MANAGER, { dryRun: true });
      } catch (error) {
        if (isConflict(error)) continue; // the same bundle is there already (content-addressed)
        throw rejected(cm, error, project.file, conn) ?? error;
      }
    }
    const result: { api: RealtimeApiObject | JobApiObject; plan: Plan; current?: number }[] = [];
    for (const api of apis) {
      let current: KubeObject | undefined;
      try {
        current = await client.get(resourceOf(api), namespace, api.metadata.name);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      let dry: KubeObject;
      try {
        dry = await client.apply(resourceOf(api), api, { fieldManager: FIELD_MANAGER, force: true, dryRun: true });
      } catch (error) {
        throw rejected(api, error, project.file, conn) ?? error;
      }
      const plan: Plan =
        current === undefined
          ? 'creating'
          : dry.metadata?.generation === current.metadata?.generation
            ? 'up to date'
            : 'updating';
      result.push({ api, plan, current: current?.metadata?.generation });
    }
    await checkSplitterTargets(conn, project);
    await checkEndpointsFree(conn, project);
    for (const o of splitters) {
      await dryRunSplitters(conn, [o]).catch((error: unknown) => {
        throw rejected(o, error, project.file, conn) ?? error;
      });
    }
    return result;
  }).catch((error: unknown) => {
    check.fail();
    throw error;
  });
  check.done();

  const results: ClusterDeployResult[] = [];
  await talk(conn, `deploying to ${conn.env.name}`, async () => {
    if (configMaps.length > 0 && plans.some((p) => p.plan !== 'up to date')) {
      const upload = reporter.step(`uploading the bundle (${plural(configMaps.length, 'ConfigMap')})`);
      let created = 0;
      for (const cm of configMaps) {
        try {
          await client.create(CONFIG_MAPS, cm, FIELD_MANAGER);
          created++;
        } catch (error) {
          if (!isConflict(error)) {
            upload.fail();
            throw error;
          }
        }
      }
      upload.done(created === 0 ? 'already in the cluster' : undefined);
    }
    for (const { api, plan, current } of plans) {
      let generation = current ?? 1;
      if (plan !== 'up to date') {
        const step = reporter.step(`${plan} ${api.kind === KIND ? '' : `${api.kind} `}${api.metadata.name}`);
        const applied = await client
          .apply<KubeObject>(resourceOf(api), api, { fieldManager: FIELD_MANAGER, force: true })
          .catch((error: unknown) => {
            step.fail();
            throw error;
          });
        generation = applied.metadata?.generation ?? generation;
        step.done();
      }
      results.push({
        api: api.metadata.name,
        kind: api.kind,
        plan,
        generation,
        endpoint: api.spec.networking.endpoint ?? `/${api.metadata.name}`,
      });
    }
    // after the APIs they split to; a weight change is just this apply again
    for (const o of splitters) {
      const split = o.spec.apis.map((a) => (a.shadow ? `shadow ${a.name}` : `${a.name} ${a.weight}%`));
      const step = reporter.step(`applying TrafficSplitter ${o.metadata.name} (${split.join(', ')})`);
      await applySplitters(conn, [o]).catch((error: unknown) => {
        step.fail();
        throw error;
      });
      step.done();
    }
  });
  return { projectDir: project.dir, results };
}
