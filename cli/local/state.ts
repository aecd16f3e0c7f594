// The deployed APIs, persisted in $CORTEX_HOME/state.json so that a new shell (or a restarted
// supervisor) sees the same APIs. The supervisor is the only writer; the CLI reads the file
// only when no supervisor runs.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RealtimeApiSpec } from '../../operator/api/v1alpha1/index.ts';
import type { Layout } from './paths.ts';

/** One deployable version of an API: what `cortex serve` needs to run it. */
export interface VersionRecord {
  /** Identifies the version: API name, spec, project contents and environment. */
  hash: string;
  /** The snapshot folder (a copy of the project folder) the replicas run from. */
  snapshot: string;
  /** The config file inside the snapshot. */
  configFile: string;
  spec: RealtimeApiSpec;
  /** Environment variables for the replicas (the deploying shell's CORTEX_PYTHON, ...). */
  env: Record<string, string>;
  /** The folder it was deployed from, for display. */
  source: string;
  /** When the deploy asked for it (ISO time). */
  deployedAt: string;
}

export interface FailureRecord {
  hash: string;
  reason: string;
  at: string;
}

export interface ApiRecord {
  name: string;
  createdAt: string;
  /** The version serving (absent when the API's first version never became ready). */
  version?: VersionRecord;
  /** When it became live. */
  liveSince?: string;
  /** The last deploy that failed, until a later one succeeds. */
  failure?: FailureRecord;
}

export interface StateFile {
  apis: Record<string, ApiRecord>;
}

export function readState(l: Layout): StateFile {
  try {
    const parsed = JSON.parse(readFileSync(l.state, 'utf8')) as StateFile;
    return { apis: parsed.apis ?? {} };
  } catch {
    return { apis: {} };
  }
}

export function writeState(l: Layout, state: StateFile): void {
  mkdirSync(path.dirname(l.state), { recursive: true });
  const tmp = `${l.state}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, l.state);
}
