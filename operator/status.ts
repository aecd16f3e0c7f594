// The RealtimeAPI's status, derived in one place from what the operator observed: the spec's
// validity, whether a node pool fits, the Deployment (as the last apply returned it, so its
// generation is current) and the API's pods. Pure: the same observations give the same status.

import type { V1Deployment, V1Pod, V1ContainerStatus } from '@kubernetes/client-node';
import {
  CONDITION_PROGRESSING,
  CONDITION_READY,
  type Condition,
  type RealtimeApiStatus,
  type StatusWord,
} from './api/v1alpha1/index.ts';
import { canonicalJson, type PolicyRule } from './reconcilers/types.ts';

/** Pods are read (never written) to explain a status. */
export const statusRbac: PolicyRule[] = [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }];

/** Why an API is not live, as a status word, a condition reason and a message for a person. */
export interface Problem {
  word: StatusWord;
  reason: string;
  message: string;
}

export interface Observed {
  name: string;
  namespace: string;
  generation: number;
  /** The in-cluster URL, when the Service exists. */
  endpoint?: string;
  /** The spec is invalid: what is wrong with it. */
  invalidSpec?: string;
  /** An AsyncAPI and the operator has no queue (--queue-url): what to do. */
  queueMissing?: string;
  /** No node pool fits compute: which pools exist and why none fits. */
  computeUnavailable?: string;
  /** ConfigMaps of predictor.bundle do not exist: which, and what to do. */
  bundleMissing?: string;
  /** Applying a child failed: the API server's message. */
  applyError?: string;
  /** Ready pods serving an older version of models whose new one failed to download or load (their /metrics). */
  reloadFailing?: { pod: string; models: string[] }[];
  /** minReplicas 0 and the Deployment at 0 replicas (operator/scale-to-zero): scaleToZeroAfter, and since when. */
  scaledToZero?: { after: string; since?: string };
  deployment?: V1Deployment;
  pods: V1Pod[];
  previous?: RealtimeApiStatus;
  now: Date;
}

const IMAGE_PULL_REASONS = new Set([
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'ErrImageNeverPull',
  'RegistryUnavailable',
  'SignatureValidationFailed',
]);
const CONFIG_REASONS = new Set([
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  'PreCreateHookError',
  'PostStartHookError',
]);

/** Ordered by what a person should fix first. */
const PRIORITY = ['ImagePullFailed', 'OutOfMemory', 'ContainerFailing', 'Unschedulable'];

function isTrue(conditions: { type: string; status: string }[] | undefined, type: string): boolean {
  return (conditions ?? []).some((c) => c.type === type && c.status === 'True');
}

function oneLine(s: string, max = 1024): string {
  const t = s.trim().replace(/\s*\n\s*/g, ' | ');
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** The problem of one container, if it has one. */
function containerProblem(pod: string, cs: V1ContainerStatus, init: boolean): Problem | undefined {
  const waiting = cs.state?.waiting;
  const current = cs.state?.terminated;
  const last = cs.lastState?.terminated;
  const which = `${init ? 'init container' : 'container'} ${cs.name} of pod ${pod}`;
  if (waiting?.reason && IMAGE_PULL_REASONS.has(waiting.reason)) {
    return {
      word: 'error (image pull)',
      reason: 'ImagePullFailed',
      message: oneLine(`cannot pull image ${cs.image}: ${waiting.message ?? waiting.reason}`),
    };
  }
  if (current?.reason === 'OOMKilled' || last?.reason === 'OOMKilled') {
    return {
      word: 'error (out of memory)',
      reason: 'OutOfMemory',
      message: `${which} ran out of memory and was killed; raise compute.mem (or use less memory per replica)`,
    };
  }
  if (waiting?.reason && CONFIG_REASONS.has(waiting.reason)) {
    return {
      word: 'error',
      reason: 'ContainerFailing',
      message: oneLine(`${which} cannot start (${waiting.reason}): ${waiting.message ?? ''}`),
    };
  }
  const crashed = waiting?.reason === 'CrashLoopBackOff' || (current !== undefined && current.exitCode !== 0);
  if (crashed) {
    const term = current ?? last;
    const detail = term?.message?.trim()
      ? term.message
      : term
        ? `exit code ${term.exitCode}${term.reason ? ` (${term.reason})` : ''}`
        : (waiting?.message ?? 'it keeps exiting');
    return { word: 'error', reason: 'ContainerFailing', message: oneLine(`${which} keeps failing: ${detail}`) };
  }
  return undefined;
}

/** The most pressing problem among pods that are not ready (ready pods have none worth a status). */
export function podProblem(pods: V1Pod[]): Problem | undefined {
  const found: Problem[] = [];
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue;
    if (isTrue(pod.status?.conditions, 'Ready')) continue;
    const name = pod.metadata?.name ?? '?';
    for (const cs of pod.status?.initContainerStatuses ?? []) {
      const p = containerProblem(name, cs, true);
      if (p) found.push(p);
    }
    for (const cs of pod.status?.containerStatuses ?? []) {
      const p = containerProblem(name, cs, false);
      if (p) found.push(p);
    }
    const scheduled = (pod.status?.conditions ?? []).find((c) => c.type === 'PodScheduled');
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
      found.push({
        word: 'compute unavailable',
        reason: 'Unschedulable',
        message: oneLine(`no node can run pod ${name}: ${scheduled.message ?? 'unschedulable'}`),
      });
    }
  }
  found.sort((a, b) => PRIORITY.indexOf(a.reason) - PRIORITY.indexOf(b.reason));
  return found[0];
}

/** Replica counts and whether the Deployment's latest spec is fully rolled out. */
export function rollout(deployment: V1Deployment | undefined): {
  requested: number;
  ready: number;
  updated: number;
  available: number;
  total: number;
  complete: boolean;
  observed: boolean;
} {
  const spec = deployment?.spec?.replicas ?? 0;
  const st = deployment?.status ?? {};
  const observed = deployment !== undefined && (st.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
  const ready = st.readyReplicas ?? 0;
  const updated = st.updatedReplicas ?? 0;
  const available = st.availableReplicas ?? 0;
  const total = st.replicas ?? 0;
  // kubectl rollout status's test: every replica updated, old ones gone, all available
  const complete = observed && updated >= spec && total <= updated && available >= updated && ready >= spec;
  return { requested: spec, ready, updated, available, total, complete, observed };
}

function condition(type: string, status: boolean, reason: string, message: string, o: Observed): Condition {
  const s = status ? 'True' : 'False';
  const before = o.previous?.conditions?.find((c) => c.type === type);
  const lastTransitionTime =
    before && before.status === s ? before.lastTransitionTime : o.now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    type,
    status: s,
    observedGeneration: o.generation,
    lastTransitionTime,
    reason,
    message: oneLine(message, 32_000),
  };
}

/** Live, but serving an older version of some models: which, on which pods, and where the reason is. */
function reloadMessage(o: Observed): string | undefined {
  const failing = (o.reloadFailing ?? []).filter((p) => p.models.length > 0);
  if (failing.length === 0) return undefined;
  const models = [...new Set(failing.flatMap((p) => p.models))].sort();
  const pods = failing.map((p) => p.pod).sort();
  return (
    `the new version of model ${models.join(', ')} failed to download or load on pod ${pods.join(', ')}; ` +
    `the previous version keeps serving (the reason: cortex logs ${o.name})`
  );
}

/** The status for what was observed. */
export function deriveStatus(o: Observed): RealtimeApiStatus {
  const r = rollout(o.deployment);
  const base: RealtimeApiStatus = {
    observedGeneration: o.generation,
    replicas: { requested: r.requested, ready: r.ready, updated: r.updated, available: r.available },
    ready: `${r.ready}/${r.requested}`,
  };
  if (o.endpoint) base.endpoint = o.endpoint;

  const finish = (
    word: StatusWord,
    ready: { ok: boolean; reason: string; message: string },
    progressing: { ok: boolean; reason: string; message: string },
    message?: string,
  ): RealtimeApiStatus => {
    const status: RealtimeApiStatus = { ...base, status: word };
    if (message) status.message = oneLine(message, 32_000);
    status.conditions = [
      condition(CONDITION_READY, ready.ok, ready.reason, ready.message, o),
      condition(CONDITION_PROGRESSING, progressing.ok, progressing.reason, progressing.message, o),
    ];
    return status;
  };
  const failed = (word: StatusWord, reason: string, message: string) =>
    finish(word, { ok: false, reason, message }, { ok: false, reason, message }, message);

  if (o.invalidSpec) return failed('error', 'InvalidSpec', o.invalidSpec);
  if (o.queueMissing) return failed('error', 'QueueMissing', o.queueMissing);
  if (o.bundleMissing) return failed('error', 'BundleMissing', o.bundleMissing);
  if (o.computeUnavailable) return failed('compute unavailable', 'ComputeUnavailable', o.computeUnavailable);
  if (o.applyError) return failed('error', 'ApplyFailed', o.applyError);

  if (o.scaledToZero && r.requested === 0) {
    // serving, through the activator: the next request starts a replica and waits for it
    const when = o.scaledToZero.since
      ? `scaled to zero at ${o.scaledToZero.since} after ${o.scaledToZero.after} without a request`
      : 'its Deployment has 0 replicas';
    const message = `no replicas (${when}); the next request starts one and is answered once it is ready`;
    return finish(
      'live',
      { ok: true, reason: 'ScaledToZero', message },
      { ok: false, reason: 'ScaledToZero', message: 'no replicas to roll out' },
    );
  }

  const counts = `${r.ready}/${r.requested} replicas ready, ${r.updated} up to date`;
  if (r.complete) {
    const failing = reloadMessage(o);
    return finish(
      'live',
      failing
        ? { ok: true, reason: 'ModelReloadFailing', message: failing }
        : { ok: true, reason: 'Live', message: counts },
      { ok: false, reason: 'RolloutComplete', message: 'every replica runs the latest spec' },
      failing,
    );
  }

  const problem = podProblem(o.pods);
  if (problem) {
    return finish(
      problem.word,
      { ok: false, reason: problem.reason, message: problem.message },
      { ok: true, reason: 'RollingOut', message: counts },
      problem.message,
    );
  }
  const conditions = o.deployment?.status?.conditions ?? [];
  const replicaFailure = conditions.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  if (replicaFailure) {
    const message = `cannot create replicas: ${replicaFailure.message ?? replicaFailure.reason ?? 'ReplicaFailure'}`;
    return finish(
      'error',
      { ok: false, reason: 'ReplicaFailure', message },
      { ok: true, reason: 'RollingOut', message: counts },
      message,
    );
  }
  const progressing = conditions.find((c) => c.type === 'Progressing');
  if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    const deadline = o.deployment?.spec?.progressDeadlineSeconds ?? 600;
    const message = `the rollout made no progress for ${deadline} s (${counts})`;
    return finish(
      'error',
      { ok: false, reason: 'ProgressDeadlineExceeded', message },
      { ok: false, reason: 'ProgressDeadlineExceeded', message },
      message,
    );
  }
  const message = o.deployment === undefined ? 'creating the replicas' : `updating: ${counts}`;
  return finish(
    'updating',
    { ok: false, reason: 'Updating', message },
    { ok: true, reason: 'RollingOut', message },
    message,
  );
}

/** Whether two statuses differ (key order and absent-vs-undefined do not count). */
export function statusChanged(a: RealtimeApiStatus | undefined, b: RealtimeApiStatus | undefined): boolean {
  return canonicalJson(JSON.parse(JSON.stringify(a ?? {}))) !== canonicalJson(JSON.parse(JSON.stringify(b ?? {})));
}
