// An API's status in the local environment, derived in one place from its runner's state: what
// `cortex get` shows (apiStatus) and what the gateway tells clients when no replica takes their
// request (publicReason). Its own file because it only reads that state: api-runner.ts changes it.
import type { ApiStatus, ReplicaStatus } from './protocol.ts';
import type { ReplicaProcess } from './replica.ts';
import type { ApiRecord, VersionRecord } from './state.ts';

/** A version's replicas, as the runner holds them (its current run, or a rollout's). */
export interface VersionReplicas {
  version: VersionRecord;
  replicas: ReplicaProcess[];
}

/** What an API's status is derived from: its runner's state at one moment. */
export interface RunnerView {
  name: string;
  endpoint: string;
  record: ApiRecord;
  /** The version that serves (or should). */
  current: VersionReplicas | undefined;
  /** A rollout's new version, until it serves or fails. */
  next: VersionReplicas | undefined;
  /** Replicas of older versions finishing their requests. */
  draining: Map<ReplicaProcess, VersionRecord>;
  deleted: boolean;
}

export function requestedReplicas(version: VersionRecord): number {
  return Math.max(1, version.spec.autoscaling.initReplicas ?? version.spec.autoscaling.minReplicas);
}

/**
 * Why no replica takes requests, as clients may read it: never a replica's error itself (an
 * exception message can hold a password); that stays in `cortex get` and the logs.
 */
export function publicReason(v: RunnerView): string {
  if (v.deleted) return 'it is being deleted';
  const failed = `the API failed to start; see cortex logs ${v.name} / cortex get ${v.name}`;
  if (v.current?.replicas.some((r) => r.state !== 'ready' && r.error !== undefined)) return failed;
  if (v.current === undefined && v.next === undefined) {
    return v.record.failure
      ? `its first version failed to start; see cortex get ${v.name}`
      : 'it is not running; deploy it again';
  }
  const starting = v.next ?? v.current!;
  const ready = starting.replicas.filter((r) => r.state === 'ready').length;
  return `it is starting (${ready}/${starting.replicas.length} replicas ready)`;
}
/** What `cortex get` shows of the API, and what status reports to the CLI. */
export function apiStatus(v: RunnerView): ApiStatus {
  const current = v.current;
  const next = v.next;
  const replicas: ReplicaStatus[] = [
    ...(current?.replicas ?? []).map((r) => replicaStatus(r, 'current', current!.version)),
    ...(next?.replicas ?? []).map((r) => replicaStatus(r, 'next', next!.version)),
    ...[...v.draining].map(([r, version]) => replicaStatus(r, 'draining', version)),
  ];
  const ready = current?.replicas.filter((r) => r.state === 'ready').length ?? 0;
  const newest = next ?? current;
  const requested = newest
    ? requestedReplicas(newest.version)
    : v.record.version
      ? requestedReplicas(v.record.version)
      : 1;
  const down = current?.replicas.find((r) => r.state !== 'ready' && r.error !== undefined);
  let status: ApiStatus['status'];
  let reason: string | undefined;
  if (down) {
    status = 'error';
    reason = unsnap(down.error!, current!.version);
  } else if (next) {
    status = 'updating';
    const nextReady = next.replicas.filter((r) => r.state === 'ready').length;
    reason =
      `${current ? 'updating to' : 'creating'} version ${short(next.version.hash)}: ` +
      `${nextReady}/${next.replicas.length} replicas ready`;
  } else if (!current) {
    status = 'error';
    reason = v.record.failure?.reason ?? 'not running';
  } else if (ready < current.replicas.length) {
    status = 'updating';
    reason = `${ready}/${current.replicas.length} replicas ready`;
  } else {
    status = 'live';
  }
  const failure = v.record.failure;
  return {
    name: v.name,
    endpoint: v.endpoint,
    status,
    ...(reason !== undefined ? { reason } : {}),
    requested,
    ready,
    upToDate: newest?.replicas.filter((r) => r.state === 'ready').length ?? 0,
    restarts: current?.replicas.reduce((n, r) => n + r.restarts, 0) ?? 0,
    createdAt: v.record.createdAt,
    ...(v.record.liveSince && current ? { lastUpdate: v.record.liveSince } : {}),
    ...(current ? { version: short(current.version.hash) } : {}),
    ...(next ? { updatingTo: short(next.version.hash) } : {}),
    ...(failure && (current || next)
      ? { lastDeployError: { version: short(failure.hash), reason: failure.reason, at: failure.at } }
      : {}),
    ...(newest ? { source: newest.version.source } : v.record.version ? { source: v.record.version.source } : {}),
    replicas,
  };
}

/** A message about a version's replica names the project's files, not their snapshot copies. */
export function unsnap(text: string, version: VersionRecord): string {
  return version.snapshot !== '' ? text.replaceAll(version.snapshot, version.source) : text;
}

export function short(hash: string): string {
  return hash.slice(0, 8);
}

function replicaStatus(r: ReplicaProcess, role: ReplicaStatus['role'], version: VersionRecord): ReplicaStatus {
  return {
    id: r.id,
    version: short(version.hash),
    role,
    state: r.state,
    ...(r.pid !== undefined && r.state !== 'exited' && r.state !== 'restarting' ? { pid: r.pid } : {}),
    ...(r.port !== undefined ? { port: r.port } : {}),
    ...(r.grpcPort !== undefined ? { grpcPort: r.grpcPort } : {}),
    restarts: r.restarts,
    ...(r.error !== undefined ? { error: unsnap(r.error, version) } : {}),
    ...(r.lastExit !== undefined ? { lastExit: unsnap(r.lastExit, version) } : {}),
    ...(r.progress !== undefined ? { progress: r.progress } : {}),
    ...(r.reloadErrors !== undefined ? { reloadErrors: r.reloadErrors } : {}),
    ...(r.startedAt ? { startedAt: r.startedAt.toISOString() } : {}),
    ...(r.readyAt ? { readyAt: r.readyAt.toISOString() } : {}),
    logFile: r.options.logFile,
  };
}
