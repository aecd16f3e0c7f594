// The checks a RealtimeAPI's defaulted spec must pass before the controller applies anything, as the
// one line the status shows (invalidSpec). Apart from the controller so the reconcile reads as the
// apply sequence, and the checks beyond the schema (bundle or image, the runtime spec's size) sit together.

import { validateSpec, isPredictorApi } from './api/v1alpha1/index.ts';
import { runtimeSpecJson } from './reconcilers/deployment.ts';
import { runtimeSpecIssue } from './reconcilers/runtime-spec.ts';
import type { ApiInstance } from './reconcilers/types.ts';

/** A RealtimeAPI's issues as one line: "autoscaling.minReplicas: must be ≤ maxReplicas (2); …". */
function describeIssues(issues: { path: string[]; message: string; fix?: string }[]): string {
  return issues.map((i) => `${i.path.join('.')}: ${i.message}${i.fix ? ` (${i.fix})` : ''}`).join('; ');
}

/** What is wrong with the defaulted spec, as the status's invalidSpec line; undefined: nothing. */
export function invalidSpecReason(api: ApiInstance): string | undefined {
  const { name, namespace, uid, generation, spec } = api;
  const issues = validateSpec(spec);
  if (issues.length === 0 && isPredictorApi(spec) && !spec.predictor.bundle && !spec.predictor.image) {
    issues.push({
      path: ['predictor'],
      message: 'has neither a bundle nor an image',
      fix:
        'deploy with cortex deploy (it uploads the bundle) ' +
        'or set predictor.image to an image with the project in /mnt/project',
    });
  }
  if (issues.length === 0 && isPredictorApi(spec)) {
    // the replicas get the runtime's part of the spec in an environment variable, which has a size limit
    const tooBig = runtimeSpecIssue(runtimeSpecJson({ name, namespace, uid, generation, spec }));
    if (tooBig) issues.push(tooBig);
  }
  return issues.length > 0 ? describeIssues(issues) : undefined;
}
