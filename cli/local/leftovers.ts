// What a supervisor that died leaves behind, and what the next one does with it: the lock
// (supervisor.pid), replicas still serving that it takes over, stray replica processes and
// containers it ends, and files nothing refers to any more.
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { execa } from 'execa';
import type { JsonLogger } from '../../operator/util/log.ts';
import { isPodApi } from '../../operator/api/v1alpha1/index.ts';
import type { ReplicaRecord } from './replica-record.ts';
import { processAlive, replicaReadyz } from './replica.ts';
import { homePrefix } from './pod-replicas.ts';
import { detectRunnerOnce } from './runners/runner.ts';
import type { Layout } from './paths.ts';
import type { StateFile } from './state.ts';

/** One supervisor per home: supervisor.pid, created exclusively; a dead owner's file is taken over. */
export function acquireLock(l: Layout): boolean {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(l.pidFile, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(l.pidFile, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) return false;
      rmSync(l.pidFile, { force: true });
    }
  }
  return false;
}

/**
 * Replicas a supervisor that died left serving, which this one takes over instead of restarting:
 * recorded in run/<replica>.json, of the version state.json records for their API, running
 * `cortex serve` of that version's config file, and ready (/readyz answers 200).
 */
export async function adoptableReplicas(l: Layout, state: StateFile): Promise<ReplicaRecord[]> {
  const found: ReplicaRecord[] = [];
  for (const name of safeList(l.run)) {
    if (!name.endsWith('.json')) continue;
    let record: ReplicaRecord;
    try {
      record = JSON.parse(readFileSync(path.join(l.run, name), 'utf8')) as ReplicaRecord;
    } catch {
      continue;
    }
    if (!Value.Check(ReplicaRecordSchema, record)) continue;
    const version = state.apis[record.api]?.version;
    if (version?.hash !== record.hash || name !== `${record.id}.json` || !processAlive(record.pid)) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${record.pid}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue; // no /proc: cannot tell the process is that replica
    }
    if (!cmdline.includes(' serve ') || !cmdline.includes(version.configFile)) continue;
    try {
      if ((await replicaReadyz(record.port, 1000)).status === 200) found.push(record);
    } catch {
      // not answering: restarted instead
    }
  }
  return found;
}

const ReplicaRecordSchema = Type.Object({
  api: Type.String(),
  id: Type.String({ pattern: '^[a-z0-9-]+$' }),
  hash: Type.String(),
  pid: Type.Integer({ minimum: 2 }),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  startedAt: Type.String(),
});

/** Replicas of a supervisor that was killed outright (SIGKILL, OOM) and that are not taken over: end them. */
export async function killLeftovers(l: Layout, log: JsonLogger, keep: Set<number>): Promise<void> {
  const { stdout } = await execa('ps', ['-eo', 'pid=,args='], { reject: false });
  for (const line of (stdout ?? '').split('\n')) {
    const match = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (!match || !match[2].includes(' serve ') || !match[2].includes(l.snapshots + path.sep)) continue;
    const pid = Number(match[1]);
    if (keep.has(pid)) continue;
    log.warn(`ending replica ${pid} left over from a previous supervisor`);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

/**
 * Containers of pod API replicas that a supervisor killed outright left (docker's and podman's
 * outlive their client; buildah's working containers stay): removed, except the adopted ones'.
 */
export async function removeLeftoverContainers(
  l: Layout,
  log: JsonLogger,
  state: StateFile,
  adopted: ReplicaRecord[],
): Promise<void> {
  if (!Object.values(state.apis).some((a) => a.version !== undefined && isPodApi(a.version.spec))) return;
  const { runner } = await detectRunnerOnce();
  if (runner === undefined) return;
  const prefix = homePrefix(l.home);
  const kept = adopted.map((a) => `${prefix}${a.id}-`);
  const left = (await runner.list(prefix)).filter((name) => !kept.some((k) => name.startsWith(k)));
  if (left.length === 0) return;
  log.warn(`removing ${runner.name} containers left over from a previous supervisor: ${left.join(', ')}`);
  await runner.remove(left);
}

/**
 * At start: snapshots and files nothing refers to (a deploy interrupted long ago). `used`: the
 * snapshot folders the recorded versions use; `apis`: the recorded APIs (their log folders stay).
 */
export function removeStrays(l: Layout, used: Set<string>, apis: Set<string>, adopted: ReplicaRecord[]): void {
  const hourAgo = Date.now() - 3600_000;
  for (const name of safeList(l.snapshots)) {
    const dir = path.join(l.snapshots, name);
    if (!used.has(dir) && statSync(dir).mtimeMs < hourAgo) rmSync(dir, { recursive: true, force: true });
  }
  // Files of replicas taken over stay: they still write their log.
  const kept = new Set(adopted.map((a) => a.id));
  const keep = (file: string) => kept.has(file.slice(0, file.indexOf('.')));
  for (const name of safeList(l.logs)) {
    if (!apis.has(name)) rmSync(path.join(l.logs, name), { recursive: true, force: true });
    else
      for (const file of safeList(path.join(l.logs, name)))
        if (!keep(file)) rmSync(path.join(l.logs, name, file), { force: true });
  }
  for (const name of safeList(l.run)) if (!keep(name)) rmSync(path.join(l.run, name), { force: true });
}

/** The names in `dir` (none when it is missing or unreadable). */
export function safeList(dir: string): string[] {
  try {
    return existsSync(dir) ? readdirSync(dir) : [];
  } catch {
    return [];
  }
}
