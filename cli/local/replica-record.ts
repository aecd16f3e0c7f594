// run/<replica>.json: what a supervisor writes of each ready replica so that the next one can take
// it over (leftovers.ts, adoptableReplicas) if this one dies. Its own file because both sides use
// it: the writer (api-runner.ts) and the reader (leftovers.ts), which need nothing else of each other.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Layout } from './paths.ts';
import type { ReplicaProcess } from './replica.ts';

/**
 * What run/<replica>.json records of a ready replica: enough for the next supervisor to take it
 * over (adopt) if this one dies, instead of restarting it.
 */
export interface ReplicaRecord {
  api: string;
  id: string;
  /** The version's hash. */
  hash: string;
  pid: number;
  port: number;
  /** A gRPC API's replica: its gRPC port (port is its admin port). */
  grpcPort?: number;
  startedAt: string;
}

export function replicaRecordFile(l: Layout, id: string): string {
  return path.join(l.run, `${id}.json`);
}

/** Writes run/<replica>.json of API `api`'s replica of version `hash` (see ReplicaRecord). */
export function writeReplicaRecord(l: Layout, api: string, replica: ReplicaProcess, hash: string): void {
  if (replica.pid === undefined || replica.port === undefined) return;
  const record: ReplicaRecord = {
    api,
    id: replica.id,
    hash,
    pid: replica.pid,
    port: replica.port,
    ...(replica.grpcPort !== undefined ? { grpcPort: replica.grpcPort } : {}),
    startedAt: (replica.startedAt ?? new Date()).toISOString(),
  };
  try {
    writeFileSync(replicaRecordFile(l, replica.id), JSON.stringify(record) + '\n', { mode: 0o600 });
  } catch {
    // only a faster recovery is lost
  }
}
