// Fields of cortex.yaml that a cluster uses and the local environment cannot: said at deploy, so
// that a project relying on them does not fail later without a reason.
import type { ConfigWarning } from '../config/errors.ts';
import type { LoadedProject } from '../config/load.ts';

/** One warning per API whose predictor.image the local environment ignores. */
export function localIgnoredWarnings(project: LoadedProject): ConfigWarning[] {
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
