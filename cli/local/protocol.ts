// What the supervisor and the CLI say to each other over the control socket. Data only: the
// CLI prints it, `-o json` shows it as is (snake_case there, see cli/commands/get.ts).
//
// Every request the supervisor takes is checked first (parseControlRequest): the shape with
// TypeBox, the name and spec as cortex.yaml's are (validateApiName, applyDefaults +
// validateSpec). Anyone who can reach the socket could send anything; nothing unchecked is kept.
import path from 'node:path';
import type { SplitterStatus } from './splitters-local.ts';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { applyDefaults, validateApiName, validateSpec } from '../../operator/api/v1alpha1/index.ts';
import type { RealtimeApiSpecInput } from '../../operator/api/v1alpha1/index.ts';
import type { VersionRecord } from './state.ts';
import { isInside } from './paths.ts';
import type { RecentRequests } from '../../operator/metrics-adapter/request-stats.ts';

export type ApiState = 'live' | 'updating' | 'error';

export interface ReplicaStatus {
  id: string;
  /** Short hash of the version it runs. */
  version: string;
  /** current: serving; next: a rollout's new replica; draining: an old one finishing its requests. */
  role: 'current' | 'next' | 'draining';
  state: 'starting' | 'ready' | 'restarting' | 'stopping' | 'exited';
  pid?: number;
  port?: number;
  /** A gRPC API's replica: where it serves gRPC (the local gateway speaks HTTP/1 only; docs/grpc.md). */
  grpcPort?: number;
  restarts: number;
  /** Why it is down now (crashed, failed init), until it is ready again. */
  error?: string;
  /** Why it last crashed, once it is back. */
  lastExit?: string;
  /** While starting: its last progress line (a model download, the dependency install). */
  progress?: string;
  /** While ready: why a new model version is not served (it could not be downloaded or loaded), per model. */
  reloadErrors?: string[];
  startedAt?: string;
  readyAt?: string;
  logFile: string;
}

export interface ApiStatus {
  name: string;
  endpoint: string;
  status: ApiState;
  /** Why it is in error, or what an update waits for. */
  reason?: string;
  /** Replicas asked for (init_replicas, at least 1). */
  requested: number;
  /** Ready replicas taking traffic. */
  ready: number;
  /** Ready replicas that run the newest version. */
  upToDate: number;
  /** Restarts of the serving replicas since they were started. */
  restarts: number;
  createdAt: string;
  /** When the serving version went live. */
  lastUpdate?: string;
  version?: string;
  updatingTo?: string;
  /** The last deploy that failed (the previous version kept serving), until one succeeds. */
  lastDeployError?: { version: string; reason: string; at: string };
  source?: string;
  replicas: ReplicaStatus[];
  /** Requests, error ratio and latency over the last minutes (absent from older supervisors). */
  recent?: RecentRequests;
}

export interface SupervisorStatus {
  pid: number;
  home: string;
  /** What went wrong outside any API (a corrupt state.json, ...), for the CLI to show. */
  warnings?: string[];
  gateway: { host: string; port: number; listening: boolean; error?: string };
  apis: ApiStatus[];
  /** The TrafficSplitters (absent from supervisors of older versions). */
  splitters?: SplitterStatus[];
}

/** A version the CLI asks the supervisor to run (the supervisor stamps deployedAt). */
export interface DeployRequest extends Omit<VersionRecord, 'deployedAt'> {
  name: string;
}

export type RolloutAction = 'created' | 'updated' | 'refreshed' | 'up-to-date' | 'failed' | 'superseded';

/** Streamed (one JSON object per line) while a deploy or refresh runs. */
export type RolloutEvent =
  | { type: 'starting'; api: string; replicas: string[] }
  | { type: 'replica-ready'; api: string; replica: string; ready: number; of: number }
  | { type: 'result'; api: string; action: RolloutAction; reason?: string; replica?: string; logTail?: string[] };

const Text = Type.String({ minLength: 1, maxLength: 4096 });

export const DeployRequestSchema = Type.Object(
  {
    name: Type.String(),
    hash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    snapshot: Text,
    configFile: Text,
    spec: Type.Unknown(),
    env: Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String({ maxLength: 65536 })),
    source: Text,
  },
  { additionalProperties: false },
);

export const NameRequestSchema = Type.Object({ name: Type.String() }, { additionalProperties: false });
export type NameRequest = Static<typeof NameRequestSchema>;

export class ControlRequestError extends Error {}

function shape<T extends TSchema>(what: string, schema: T, body: unknown): Static<T> {
  if (Value.Check(schema, body)) return body;
  const first = Value.Errors(schema, body).First();
  const where = first?.path.replace(/^\//, '').replaceAll('/', '.') ?? '';
  throw new ControlRequestError(
    `invalid ${what} request: ${where === '' ? '' : `${where}: `}${first?.message ?? 'unexpected value'}`,
  );
}

function checkName(what: string, name: string): void {
  const bad = validateApiName(name);
  if (bad) throw new ControlRequestError(`invalid ${what} request: name: ${bad.message}`);
}

/** A deploy request, checked; its spec with defaults applied. Throws ControlRequestError. */
export function parseDeployRequest(body: unknown): DeployRequest {
  const request = shape('deploy', DeployRequestSchema, body);
  checkName('deploy', request.name);
  const spec = applyDefaults(request.name, request.spec as RealtimeApiSpecInput);
  const issues = validateSpec(spec);
  if (issues.length > 0) {
    const first = issues[0];
    throw new ControlRequestError(
      `invalid deploy request: spec.${first.path.join('.')}: ${first.message}` +
        (issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''),
    );
  }
  return { ...request, spec };
}

/**
 * Why a deploy request's files are not a snapshot of this home, $CORTEX_HOME/snapshots being
 * `snapshotsDir` (undefined when they are): the supervisor later removes that folder.
 */
export function outsideSnapshots(request: DeployRequest, snapshotsDir: string): string | undefined {
  if (path.dirname(path.resolve(request.snapshot)) !== path.resolve(snapshotsDir))
    return `snapshot ${request.snapshot} is not a folder of ${snapshotsDir}`;
  if (!isInside(request.snapshot, request.configFile))
    return `configFile ${request.configFile} is not inside the snapshot ${request.snapshot}`;
  return undefined;
}

/** The body of refresh and delete: an API name. Throws ControlRequestError. */
export function parseNameRequest(what: string, body: unknown): NameRequest {
  const request = shape(what, NameRequestSchema, body);
  checkName(what, request.name);
  return request;
}

/**
 * The body of a control request on `route` ('POST /deploy', ...), checked where the route takes
 * one (deploy, refresh, delete); the others' as sent. Throws ControlRequestError.
 */
export function parseControlRequest(route: string, body: unknown): unknown {
  switch (route) {
    case 'POST /deploy':
      return parseDeployRequest(body);
    case 'POST /refresh':
    case 'POST /delete':
      return parseNameRequest(route.slice(6), body);
  }
  return body;
}
