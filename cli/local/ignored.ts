// Fields of cortex.yaml that a cluster uses and the local environment cannot: said at deploy, so
// that a project relying on them does not fail later without a reason.
import { isPodApi } from '../../operator/api/v1alpha1/index.ts';
import type { ConfigWarning } from '../config/errors.ts';
import type { LoadedApi, LoadedProject } from '../config/load.ts';

/** Warnings of what the local environment ignores: predictor.image, and pod container fields no runner applies. */
export function localIgnoredWarnings(project: LoadedProject): ConfigWarning[] {
  return [...imageWarnings(project), ...project.apis.flatMap((api) => podWarnings(project, api))];
}

/** A pod API's container fields that no local runner applies (docs/cortex-0.42.md#locally). */
function podWarnings(project: LoadedProject, api: LoadedApi): ConfigWarning[] {
  if (!isPodApi(api.spec)) return [];
  const warn = (i: number, field: string, what: string): ConfigWarning => ({
    file: project.file,
    line: api.line,
    column: 1,
    api: api.name,
    field: `pod.containers[${i}].${field}`,
    message: `${what} is not applied by the local environment (a cluster environment applies it)`,
    fix: 'deploy to a cluster (cortex deploy -e ENV) where it matters',
  });
  return api.spec.pod.containers.flatMap((c, i) => [
    ...(c.livenessProbe ? [warn(i, 'liveness_probe', 'the liveness probe (a container that exits is restarted)')] : []),
    ...(c.compute.gpu > 0 ? [warn(i, 'compute.gpu', `${c.compute.gpu} GPU`)] : []),
    ...(c.compute.shm !== undefined ? [warn(i, 'compute.shm', `shm ${c.compute.shm}`)] : []),
  ]);
}

function imageWarnings(project: LoadedProject): ConfigWarning[] {
  return project.apis.flatMap((api) => {
    const image = api.spec.predictor?.image; // a pod API's images are its containers'
    if (image === undefined) return [];
    return [
      {
        file: project.file,
        line: api.line,
        column: 1,
        api: api.name,
        field: 'predictor.image',
        message:
          `${image} is ignored by the local environment: its replicas run on this machine with ` +
          `${process.env.CORTEX_PYTHON ?? 'python3'} (CORTEX_PYTHON) and the project's requirements.txt and ` +
          'dependencies.sh, not in that image (a cluster environment runs it)',
        fix:
          'put what the image adds in requirements.txt or dependencies.sh, ' +
          'or deploy to a cluster (cortex deploy -e ENV)',
      },
    ];
  });
}
