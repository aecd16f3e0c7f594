// The objects a cluster deploy writes, built in one place so that `cortex deploy` and
// `cortex render` (GitOps) produce exactly the same ones: the bundle's ConfigMaps, one
// RealtimeAPI per API of the cortex.yaml and one BatchAPI or TaskAPI per job API, all pointing at
// the same bundle.
import {
  API_VERSION,
  KIND,
  isPredictorApi,
  type BundleSpec,
  type JobApiKind,
  type JobApiSpec,
  type RealtimeApiSpec,
} from '../../operator/api/v1alpha1/index.ts';
import type { KubeObject, ResourceType } from '../../operator/kube/client.ts';
import { MANAGED_BY_LABEL, REALTIME_APIS } from '../../operator/kube/resources.ts';
import { BATCH_APIS, TASK_APIS } from '../../operator/job-resources.ts';
import { CliError, ExitCode } from '../errors.ts';
import type { LoadedProject } from '../config/index.ts';

export const MANAGED_BY_CLI = 'cortex';

export interface RealtimeApiObject extends KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
  spec: RealtimeApiSpec;
}

export interface JobApiObject extends KubeObject {
  apiVersion: string;
  kind: JobApiKind;
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
  spec: JobApiSpec;
}

/** The resource an API object of the deploy is applied to. */
export function resourceOf(obj: RealtimeApiObject | JobApiObject): ResourceType {
  if (obj.kind === KIND) return REALTIME_APIS;
  return obj.kind === 'BatchAPI' ? BATCH_APIS : TASK_APIS;
}

export interface ProjectManifests {
  /** The bundle's ConfigMaps (none when the code is baked into predictor.image). */
  configMaps: KubeObject[];
  apis: RealtimeApiObject[];
}

/** Whether a project has code to upload: pod APIs run their own images, predictor and job APIs need the folder. */
export function needsBundle(project: LoadedProject): boolean {
  return project.jobApis.length > 0 || project.apis.some((a) => isPredictorApi(a.spec));
}

function metadata(name: string, namespace: string | undefined): RealtimeApiObject['metadata'] {
  return { name, ...(namespace !== undefined ? { namespace } : {}), labels: { [MANAGED_BY_LABEL]: MANAGED_BY_CLI } };
}

/** Without a bundle every API with a predictor must have predictor.image: else it would have no code. */
function checkImages(project: LoadedProject): void {
  const missing = [
    ...project.apis.filter((a) => isPredictorApi(a.spec) && a.spec.predictor.image === undefined),
    ...project.jobApis.filter((a) => a.spec.predictor.image === undefined),
  ].map((a) => a.name);
  if (missing.length > 0) {
    throw new CliError(
      `${project.file}: --no-bundle means the code is baked into predictor.image, ` +
        `but ${missing.join(', ')} ${missing.length === 1 ? 'has' : 'have'} no predictor.image; ` +
        'set predictor.image to an image with the project in /mnt/project, or deploy without --no-bundle',
      ExitCode.Usage,
    );
  }
}

/**
 * The RealtimeAPIs of a project, pointing at `bundle` (absent: each API's predictor.image must
 * hold the project at /mnt/project). `namespace` undefined leaves it out (kubectl's current one).
 */
export function realtimeApis(
  project: LoadedProject,
  bundle: BundleSpec | undefined,
  namespace: string | undefined,
): RealtimeApiObject[] {
  if (bundle === undefined) checkImages(project);
  return project.apis.map((api) => ({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: metadata(api.name, namespace),
    // a pod API runs its own images: no project folder, no bundle
    spec: isPredictorApi(api.spec)
      ? { ...api.spec, predictor: { ...api.spec.predictor, ...(bundle !== undefined ? { bundle } : {}) } }
      : api.spec,
  }));
}

/**
 * The BatchAPIs and TaskAPIs of a project, pointing at the same `bundle` as its RealtimeAPIs (the
 * job controllers give their pods a RealtimeAPI replica's template: the bundle is unpacked to
 * /mnt/project the same way).
 */
export function jobApiObjects(
  project: LoadedProject,
  bundle: BundleSpec | undefined,
  namespace: string | undefined,
): JobApiObject[] {
  if (bundle === undefined) checkImages(project);
  return project.jobApis.map((api) => ({
    apiVersion: API_VERSION,
    kind: api.kind,
    metadata: metadata(api.name, namespace),
    spec: { ...api.spec, predictor: { ...api.spec.predictor, ...(bundle !== undefined ? { bundle } : {}) } },
  }));
}
