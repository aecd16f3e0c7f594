// The objects a cluster deploy writes, built in one place so that `cortex deploy` and
// `cortex render` (GitOps) produce exactly the same ones: the bundle's ConfigMaps and one
// RealtimeAPI per API of the cortex.yaml.
import {
  API_VERSION,
  KIND,
  isPredictorApi,
  type BundleSpec,
  type RealtimeApiSpec,
} from '../../operator/api/v1alpha1/index.ts';
import type { KubeObject } from '../../operator/kube/client.ts';
import { MANAGED_BY_LABEL } from '../../operator/kube/resources.ts';
import { CliError, ExitCode } from '../errors.ts';
import type { LoadedProject } from '../config/index.ts';

export const MANAGED_BY_CLI = 'cortex';

export interface RealtimeApiObject extends KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
  spec: RealtimeApiSpec;
}

export interface ProjectManifests {
  /** The bundle's ConfigMaps (none when the code is baked into predictor.image). */
  configMaps: KubeObject[];
  apis: RealtimeApiObject[];
}

/** Whether a project has code to upload: pod APIs run their own images, predictor APIs need the folder. */
export function needsBundle(project: LoadedProject): boolean {
  return project.apis.some((a) => isPredictorApi(a.spec));
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
  if (bundle === undefined) {
    const missing = project.apis
      .filter((a) => isPredictorApi(a.spec) && a.spec.predictor.image === undefined)
      .map((a) => a.name);
    if (missing.length > 0) {
      throw new CliError(
        `${project.file}: --no-bundle means the code is baked into predictor.image, ` +
          `but ${missing.join(', ')} ${missing.length === 1 ? 'has' : 'have'} no predictor.image; ` +
          'set predictor.image to an image with the project in /mnt/project, or deploy without --no-bundle',
        ExitCode.Usage,
      );
    }
  }
  return project.apis.map((api) => ({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: api.name,
      ...(namespace !== undefined ? { namespace } : {}),
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_CLI },
    },
    // a pod API runs its own images: no project folder, no bundle
    spec: isPredictorApi(api.spec)
      ? { ...api.spec, predictor: { ...api.spec.predictor, ...(bundle !== undefined ? { bundle } : {}) } }
      : api.spec,
  }));
}
