// Validation of a RealtimeAPI spec (kubebuilder's ValidateCreate/Update): the schema through
// ajv, the formats a CRD pattern cannot explain well, and the checks across fields.
// Every issue names its field by path; messages and fixes name other fields through
// `rename`, so the CLI can speak cortex.yaml's snake_case.

import { RealtimeApiSpecSchema } from './realtimeapi-types.ts';
import { checkFormats } from './check-formats.ts';
import { checkPredictorOrPod } from './check-pod.ts';
import { schemaIssues, unknownFields } from './check-schema.ts';
import { IssueCollector, type SpecIssue, type ValidateOptions } from './issues.ts';
import { valueAt } from './schema-walk.ts';
import { checkModels } from './models-types.ts';
import { checkGrpc } from './check-grpc.ts';
import { checkAsync } from './async-types.ts';

export type { SpecIssue, ValidateOptions } from './issues.ts';

/** dependencies.conda's default before conda was refused; stored objects may still carry it. */
export const CONDA_FORMER_DEFAULT = 'conda-packages.txt';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Checks an API name (metadata.name): a DNS-1123 label, as Kubernetes requires of the objects
 * named after it. Returns the problem, or undefined when the name is fine.
 */
export function validateApiName(name: unknown): { message: string; fix: string } | undefined {
  if (typeof name !== 'string' || name === '')
    return {
      message: 'must be a non-empty string',
      fix: 'name the API with lowercase letters, digits and "-", e.g. iris-classifier',
    };
  if (name.length > 63 || !DNS1123_LABEL.test(name)) {
    const suggestion = name
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63)
      .replace(/-+$/, '');
    return {
      message:
        `"${name}" is not a valid name: ` +
        'use at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit',
      fix: suggestion ? `rename it, e.g. to "${suggestion}"` : 'rename it, e.g. to "my-api"',
    };
  }
  return undefined;
}

/**
 * Validates a spec, normally the output of applyDefaults (checks between fields are skipped
 * where a field is missing). Returns every issue found, in no particular order; [] when valid.
 */
export function validateSpec(spec: unknown, options: ValidateOptions = {}): SpecIssue[] {
  const rename = options.rename ?? ((p: string[]) => p);
  const ctx = new IssueCollector(rename);
  unknownFields(RealtimeApiSpecSchema, spec, [], ctx);
  checkFormats(RealtimeApiSpecSchema, spec, [], ctx);
  crossField(spec, ctx);
  checkModels(spec, ctx);
  checkPredictorOrPod(spec, ctx);
  checkGrpc(spec, ctx);
  checkAsync(spec, ctx);
  // the specific checks speak for their field; the schema's finding there would repeat them
  const explained = new Set(ctx.issues.map((i) => i.path.join('\0')));
  return [...schemaIssues(spec, ctx).filter((i) => !explained.has(i.path.join('\0'))), ...ctx.issues];
}

function isZero(v: unknown): boolean {
  return v === 0 || v === '0%';
}

function crossField(spec: unknown, ctx: IssueCollector): void {
  const as = ['autoscaling'];
  const min = valueAt(spec, [...as, 'minReplicas']);
  const max = valueAt(spec, [...as, 'maxReplicas']);
  const init = valueAt(spec, [...as, 'initReplicas']);
  const p = (f: string) => [...as, f];
  const int = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
  if (int(min) && int(max) && min > max) {
    ctx.add({
      path: p('minReplicas'),
      message: `must be ≤ ${ctx.name(p('maxReplicas'), p('minReplicas'))} (${max})`,
      fix:
        `lower ${ctx.name(p('minReplicas'), p('minReplicas'))} to ${max} or less, ` +
        `or raise ${ctx.name(p('maxReplicas'), p('minReplicas'))} to ${min} or more`,
    });
  } else if (int(min) && int(max) && int(init) && (init < min || init > max)) {
    ctx.add({
      path: p('initReplicas'),
      message:
        `must be between ${ctx.name(p('minReplicas'), p('initReplicas'))} (${min}) ` +
        `and ${ctx.name(p('maxReplicas'), p('initReplicas'))} (${max}) (got ${init})`,
      fix:
        `set ${ctx.name(p('initReplicas'), p('initReplicas'))} between ${min} and ${max}, ` +
        `or leave it out (it defaults to ${ctx.name(p('minReplicas'), p('initReplicas'))})`,
    });
  }

  const target = valueAt(spec, p('targetReplicaConcurrency'));
  if (typeof target === 'number' && target <= 0) {
    ctx.add({
      path: p('targetReplicaConcurrency'),
      message: `must be greater than 0 (got ${target})`,
      fix: 'use the number of requests one replica serves at once, e.g. 1',
    });
  }
  const down = valueAt(spec, p('maxDownscaleFactor'));
  if (typeof down === 'number' && !(down > 0 && down < 1)) {
    ctx.add({
      path: p('maxDownscaleFactor'),
      message: `must be greater than 0 and less than 1 (got ${down})`,
      fix: 'use e.g. 0.75 (scale down by at most a quarter per step)',
    });
  }
  const up = valueAt(spec, p('maxUpscaleFactor'));
  if (typeof up === 'number' && !(up > 1)) {
    ctx.add({
      path: p('maxUpscaleFactor'),
      message: `must be greater than 1 (got ${up})`,
      fix: 'use e.g. 1.5 (scale up by at most half per step)',
    });
  }

  // Nothing installs conda packages: a list of them must not be silently ignored.
  const condaPath = ['predictor', 'dependencies', 'conda'];
  const conda = valueAt(spec, condaPath);
  if (typeof conda === 'string' && conda !== CONDA_FORMER_DEFAULT) {
    const deps = (f: string) => ctx.name(['predictor', 'dependencies', f]);
    ctx.add({
      path: condaPath,
      message: `conda is not supported (${conda} would not be installed)`,
      fix:
        `list pip packages in ${deps('pip')} (requirements.txt) or install them in ${deps('shell')} ` +
        `(dependencies.sh), and remove ${deps('conda')}`,
    });
  }

  const us = ['updateStrategy'];
  const surge = valueAt(spec, [...us, 'maxSurge']);
  const unavailable = valueAt(spec, [...us, 'maxUnavailable']);
  if (isZero(surge) && isZero(unavailable)) {
    const from = [...us, 'maxUnavailable'];
    ctx.add({
      path: from,
      message: `must not be 0 when ${ctx.name([...us, 'maxSurge'], from)} is 0 (a rolling update could never progress)`,
      fix: `set ${ctx.name(from, from)} to 1 or 25%, or ${ctx.name([...us, 'maxSurge'], from)} above 0`,
    });
  }
}
