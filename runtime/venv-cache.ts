// The cache of virtualenvs that requirements.txt files are installed into, shared by every
// replica that sees the same folder: one machine's replicas locally, one node's replicas in a
// cluster (the chart's hostPath, CORTEX_CACHE_DIR). Layout of <root>/venvs:
//   <key>/                 a virtualenv; complete once it holds .cortex-complete
//   <key>/.cortex-bytes    its size on disk, measured when it was installed (eviction reads it)
//   <key>/.cortex-used     touched when a replica starts on it and every USE_TOUCH_MS while it runs
//   <key>.lock/            held by the replica installing <key>; its mtime is a heartbeat
//   <key>.building-<id>/   the install in progress, renamed to <key> when complete
// and <root>/interpreters/<hash>.json: an interpreter's identity, part of every key (keptInterpreterId).
// Replicas of one node starting together install once: the first takes the lock, the others wait
// for it (or take over a lock whose holder stopped beating). With a size cap (CORTEX_CACHE_MAX_SIZE)
// the least recently used virtualenvs go once an install makes the cache larger than the cap; one
// used in the last IN_USE_MS is never removed, since a running replica may still import from it.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../operator/util/log.ts';

export const COMPLETE_MARKER = '.cortex-complete';
const BYTES_FILE = '.cortex-bytes';
const USED_FILE = '.cortex-used';
/** A lock not touched for this long belongs to a replica that stopped mid-install. */
export const STALE_LOCK_MS = 60_000;
const HEARTBEAT_MS = 5_000;
const USE_TOUCH_MS = 10 * 60_000;
/** A virtualenv used more recently than this may be in use: eviction keeps it. */
export const IN_USE_MS = 30 * 60_000;

export interface CacheTiming {
  /** Polling interval while another replica installs the same key. */
  pollMs?: number;
  staleLockMs?: number;
}

/** The complete virtualenv of `key` under `root`, or undefined. */
export function findVenv(root: string, key: string): string | undefined {
  const venv = path.join(root, 'venvs', key);
  return existsSync(path.join(venv, COMPLETE_MARKER)) ? venv : undefined;
}

/** Marks `venv` used now and, while this process runs, every USE_TOUCH_MS (so eviction keeps it). */
export function markUsed(venv: string): void {
  touch(path.join(venv, USED_FILE));
  setInterval(() => touch(path.join(venv, USED_FILE)), USE_TOUCH_MS).unref();
}

function touch(file: string): void {
  try {
    const now = new Date();
    if (existsSync(file)) utimesSync(file, now, now);
    else writeFileSync(file, '');
  } catch {
    // a read-only cache (an image's baked one) or an evicted folder: nothing to record
  }
}

/**
 * The virtualenv of `key` under `root`: found, or made with `install(folder)` (which fills a new
 * folder) while holding the key's lock. Waits while another process installs the same key.
 */
export async function ensureVenv(
  root: string,
  key: string,
  install: (folder: string) => Promise<void>,
  logger: Logger,
  timing: CacheTiming = {},
): Promise<{ venv: string; installed: boolean }> {
  const { dir, made } = await ensureCached(path.join(root, 'venvs'), key, install, logger, timing);
  return { venv: dir, installed: made };
}

/**
 * The same mechanism for any folder of cached entries (the model cache, runtime/storage/cache.ts):
 * `<folder>/<key>` found complete, or made with `make(building)` under the key's lock.
 */
export async function ensureCached(
  venvs: string,
  key: string,
  install: (folder: string) => Promise<void>,
  logger: Logger,
  timing: CacheTiming & { waitingMessage?: string } = {},
): Promise<{ dir: string; made: boolean }> {
  mkdirSync(venvs, { recursive: true });
  const lock = path.join(venvs, `${key}.lock`);
  const staleMs = timing.staleLockMs ?? STALE_LOCK_MS;
  let waiting = false;
  for (;;) {
    const found = path.join(venvs, key);
    if (existsSync(path.join(found, COMPLETE_MARKER))) return { dir: found, made: false };
    if (tryLock(lock, staleMs, logger)) break;
    if (!waiting) {
      waiting = true;
      logger.info(
        timing.waitingMessage ?? 'another replica on this machine is installing the same requirements; waiting for it',
        {
          lock,
        },
      );
    }
    await sleep(timing.pollMs ?? 1000);
  }

  const heartbeat = setInterval(() => touch(lock), HEARTBEAT_MS);
  const building = path.join(venvs, `${key}.building-${randomUUID()}`);
  // A replica stopped mid-install must leave neither a half-built environment nor its lock.
  const cleanUp = () => {
    rmSync(building, { recursive: true, force: true });
    rmSync(lock, { recursive: true, force: true });
  };
  process.once('exit', cleanUp);
  try {
    await install(building);
    writeFileSync(path.join(building, BYTES_FILE), `${diskBytes(building)}\n`);
    writeFileSync(path.join(building, COMPLETE_MARKER), `${new Date().toISOString()}\n`);
    const venv = path.join(venvs, key);
    rmSync(venv, { recursive: true, force: true }); // an incomplete leftover of an older runtime
    renameSync(building, venv);
    return { dir: venv, made: true };
  } finally {
    clearInterval(heartbeat);
    process.off('exit', cleanUp);
    cleanUp();
  }
}

/** Takes the lock folder; false while a live holder has it. A stale lock is removed and retaken. */
function tryLock(lock: string, staleMs: number, logger: Logger): boolean {
  try {
    mkdirSync(lock);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  let age: number;
  try {
    age = Date.now() - statSync(lock).mtimeMs;
  } catch {
    return false; // released between the two calls: the next round finds the venv or takes the lock
  }
  if (age < staleMs) return false;
  logger.warn(`removing the lock of an install that stopped ${Math.round(age / 1000)} s ago`, { lock });
  rmSync(lock, { recursive: true, force: true });
  try {
    mkdirSync(lock);
    return true;
  } catch {
    return false;
  }
}

/**
 * The path `python` runs (looked up on PATH like a shell would), or undefined. Not resolved: a
 * virtualenv's python links to its base interpreter but sees other packages.
 */
function executable(python: string): string | undefined {
  const dirs = python.includes('/') ? [''] : (process.env.PATH ?? '').split(':').filter(Boolean);
  for (const dir of dirs) {
    const file = path.resolve(dir, python);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/** What changes when the interpreter or a folder on its sys.path (a package installed or removed) does. */
function stamp(file: string, folders: string[]): string {
  const of = (p: string) => {
    try {
      const st = statSync(p);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return '-';
    }
  };
  return [file, ...folders].map((p) => `${p}=${of(p)}`).join('\n');
}

/**
 * `python`'s identity as `ask` gives it (with the folders of its sys.path), kept in
 * <root>/interpreters with a stamp of the interpreter and of those folders, and reused while the
 * stamp matches: what the interpreter's packages are changes only with them.
 */
export async function keptInterpreterId(
  root: string,
  python: string,
  ask: () => Promise<{ id: string; folders: string[] }>,
): Promise<string> {
  const file = executable(python);
  const env = ['PYTHONPATH', 'PYTHONHOME', 'PYTHONNOUSERSITE', 'PYTHONUSERBASE'].map((k) => process.env[k] ?? '');
  const name = createHash('sha256')
    .update([file, ...env].join('\0'))
    .digest('hex')
    .slice(0, 16);
  const saved = path.join(root, 'interpreters', `${name}.json`);
  if (file !== undefined) {
    try {
      const kept = JSON.parse(readFileSync(saved, 'utf8')) as { id: string; folders: string[]; stamp: string };
      if (kept.stamp === stamp(file, kept.folders)) return kept.id;
    } catch {
      // none kept yet, or unreadable: ask the interpreter
    }
  }
  const { id, folders } = await ask();
  if (file !== undefined) {
    try {
      mkdirSync(path.dirname(saved), { recursive: true });
      const tmp = `${saved}.${process.pid}`;
      writeFileSync(tmp, JSON.stringify({ id, folders, stamp: stamp(file, folders) }));
      renameSync(tmp, saved);
    } catch {
      // a read-only cache: asked again next time
    }
  }
  return id;
}

/** Bytes of the regular files under `dir` (symbolic links not followed). */
export function diskBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return total;
}

interface CachedVenv {
  key: string;
  dir: string;
  bytes: number;
  usedMs: number;
}

function cachedVenvs(venvs: string): CachedVenv[] {
  const out: CachedVenv[] = [];
  for (const key of readdirSync(venvs)) {
    const dir = path.join(venvs, key);
    if (!existsSync(path.join(dir, COMPLETE_MARKER))) continue;
    const bytes = Number(readFileSafe(path.join(dir, BYTES_FILE))) || diskBytes(dir);
    const used = path.join(dir, USED_FILE);
    const usedMs = (existsSync(used) ? statSync(used) : statSync(path.join(dir, COMPLETE_MARKER))).mtimeMs;
    out.push({ key, dir, bytes, usedMs });
  }
  return out;
}

/** Removes what killed replicas left: half-evicted folders, and installs whose lock is gone or stale. */
function sweepLeftovers(venvs: string): void {
  for (const name of readdirSync(venvs)) {
    const building = /^(.+)\.building-[0-9a-f-]+$/.exec(name);
    let doomed = /\.evicting-[0-9a-f-]+$/.test(name);
    if (building) {
      const lock = path.join(venvs, `${building[1]}.lock`);
      doomed = !existsSync(lock) || Date.now() - mtimeMs(lock) > STALE_LOCK_MS;
    }
    if (doomed) rmSync(path.join(venvs, name), { recursive: true, force: true });
  }
}

function mtimeMs(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * Removes least recently used virtualenvs until the cache holds at most `maxBytes`, never `keep`
 * nor one used within `inUseMs`. Returns the keys removed.
 */
export function evict(root: string, maxBytes: number, keep: string, logger: Logger, inUseMs = IN_USE_MS): string[] {
  return evictFrom(path.join(root, 'venvs'), maxBytes, keep, logger, inUseMs, 'cached dependencies');
}

/** evict() for any folder of ensureCached() entries; `what` names them in the logs. */
export function evictFrom(
  venvs: string,
  maxBytes: number,
  keep: string,
  logger: Logger,
  inUseMs: number,
  what: string,
): string[] {
  sweepLeftovers(venvs);
  const all = cachedVenvs(venvs);
  let total = all.reduce((sum, v) => sum + v.bytes, 0);
  const removed: string[] = [];
  const now = Date.now();
  for (const v of all.sort((a, b) => a.usedMs - b.usedMs)) {
    if (total <= maxBytes) break;
    if (v.key === keep || now - v.usedMs < inUseMs) continue;
    // renamed first: a replica starting now sees it gone, never half removed
    const doomed = path.join(venvs, `${v.key}.evicting-${randomUUID()}`);
    try {
      renameSync(v.dir, doomed);
    } catch {
      continue; // another replica evicted it first
    }
    rmSync(doomed, { recursive: true, force: true });
    total -= v.bytes;
    removed.push(v.key);
    logger.info(`evicted ${what} ${v.key} (${mib(v.bytes)}): the cache is over its size limit`, {
      cacheBytes: total,
      maxBytes,
    });
  }
  if (total > maxBytes) {
    logger.warn(`the cache of ${what} holds ${mib(total)}, over its limit of ${mib(maxBytes)}, all of it in use`);
  }
  return removed;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
