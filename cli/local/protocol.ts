// What the supervisor and the CLI say to each other over the control socket. Data only: the
// CLI prints it, `-o json` shows it as is (snake_case there, see cli/commands/get.ts).
import type { VersionRecord } from './state.ts';

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
  restarts: number;
  /** Why it is down now (crashed, failed init), until it is ready again. */
  error?: string;
  /** Why it last crashed, once it is back. */
  lastExit?: string;
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
}

export interface SupervisorStatus {
  pid: number;
  home: string;
  gateway: { host: string; port: number; listening: boolean; error?: string };
  apis: ApiStatus[];
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
