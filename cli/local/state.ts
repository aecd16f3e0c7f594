// The deployed APIs, persisted in $CORTEX_HOME/state.json so that a new shell (or a restarted
// supervisor) sees the same APIs. The supervisor is the only writer; the CLI reads the file
// only when no supervisor runs.
//
// Each write also leaves state.last-good.json. A state.json that cannot be read (not JSON, or
// not the shape below) is moved aside to state.json.corrupt-<time> and the last good copy is
// used instead; loadState says what happened, for the log and `cortex get`.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { RealtimeApiSpec } from '../../operator/api/v1alpha1/index.ts';
import type { Layout } from './paths.ts';
import type { SplitterRecord } from './splitters-local.ts';

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
  /** The TrafficSplitters (cli/local/splitters-local.ts); absent in files of older versions. */
  splitters?: Record<string, SplitterRecord>;
}

const StateSchema = Type.Object({
  apis: Type.Record(
    Type.String(),
    Type.Object({
      name: Type.String(),
      createdAt: Type.String(),
      version: Type.Optional(
        Type.Object({
          hash: Type.String(),
          snapshot: Type.String(),
          configFile: Type.String(),
          spec: Type.Object({ networking: Type.Object({ endpoint: Type.String() }) }),
          env: Type.Record(Type.String(), Type.String()),
          source: Type.String(),
          deployedAt: Type.String(),
        }),
      ),
      liveSince: Type.Optional(Type.String()),
      failure: Type.Optional(Type.Object({ hash: Type.String(), reason: Type.String(), at: Type.String() })),
    }),
  ),
  splitters: Type.Optional(
    Type.Record(
      Type.String(),
      Type.Object({
        name: Type.String(),
        createdAt: Type.String(),
        spec: Type.Object({ networking: Type.Object({ endpoint: Type.String() }), apis: Type.Array(Type.Unknown()) }),
      }),
    ),
  ),
});

export function lastGoodFile(l: Layout): string {
  return path.join(path.dirname(l.state), 'state.last-good.json');
}

/** The file's state, or why it is not one. undefined: there is no file. */
function parseStateFile(file: string): StateFile | Error | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return error as Error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return error as Error;
  }
  if (!Value.Check(StateSchema, value)) {
    const first = Value.Errors(StateSchema, value).First();
    return new Error(`${first?.path || '/'}: ${first?.message ?? 'unexpected value'}`);
  }
  return value as StateFile;
}

/**
 * The state (the supervisor's view): a corrupt state.json is moved aside and the last good copy
 * used; `warning` then says what happened.
 */
export function loadState(l: Layout): { state: StateFile; warning?: string } {
  const parsed = parseStateFile(l.state);
  if (parsed === undefined) return { state: { apis: {} } };
  if (!(parsed instanceof Error)) return { state: parsed };
  const aside = `${l.state}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  try {
    renameSync(l.state, aside);
  } catch {
    // keep going with what can be read
  }
  const good = parseStateFile(lastGoodFile(l));
  const what = `${l.state} could not be read (${parsed.message}); it was moved to ${aside}`;
  if (good === undefined || good instanceof Error) {
    return { state: { apis: {} }, warning: `${what}, and there is no good copy: the deployed APIs are forgotten` };
  }
  writeState(l, good);
  const names = Object.keys(good.apis).sort().join(', ') || 'none';
  return {
    state: good,
    warning: `${what}; the last good copy (${lastGoodFile(l)}) was restored, with APIs: ${names}`,
  };
}

/** The state as it is on disk (the CLI's view when no supervisor runs); a corrupt file reads as empty. */
export function readState(l: Layout): StateFile {
  const parsed = parseStateFile(l.state);
  if (parsed !== undefined && !(parsed instanceof Error)) return parsed;
  if (parsed instanceof Error) {
    const good = parseStateFile(lastGoodFile(l));
    if (good !== undefined && !(good instanceof Error)) return good;
  }
  return { apis: {} };
}

export function writeState(l: Layout, state: StateFile): void {
  mkdirSync(path.dirname(l.state), { recursive: true, mode: 0o700 });
  const text = JSON.stringify(state, null, 2) + '\n';
  for (const file of [l.state, lastGoodFile(l)]) {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, file);
  }
}
