// A deploy copies the project folder into $CORTEX_HOME/snapshots/ and runs the replicas from
// that copy: later edits never leak into the running version, and a content hash tells an
// unchanged project ("up to date") from a changed one ("updating").
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { displayPath } from '../config/errors.ts';
import { CliError, ExitCode } from '../errors.ts';
import { alwaysSkipped, isIgnored, parseIgnore, type IgnoreRule } from './ignore.ts';

export const IGNORE_FILE = '.cortexignore';

/**
 * The files a local snapshot takes whatever the ignore rules say: the config file, and the
 * project's .env. The replicas load the config again from the snapshot (`cortex serve`), and
 * .env's variables join the API's env only when the file is beside it: without the copy a
 * local deploy lost them. The snapshot stays on this machine; the cluster bundle and image
 * builds still leave .env out (the variables travel in the RealtimeAPI's spec there).
 */
export function localSnapshotIncludes(projectDir: string, configFile: string): string[] {
  return [configFile, path.join(projectDir, '.env')];
}

/** Above these a deploy asks first (Cortex's limits), since the whole folder is copied. */
export const PACK_LIMITS = { files: 1000, bytes: 10 * 1024 * 1024 };

export interface ProjectFile {
  /** Relative to the project folder, with `/`. */
  rel: string;
  abs: string;
  size: number;
}

export interface Snapshot {
  /** The snapshot folder. */
  dir: string;
  /** sha256 of the relative paths and contents of every file. */
  hash: string;
  files: number;
  bytes: number;
}

/** A symbolic link in the project whose target is outside it: never deployed. */
export interface OutsideLink {
  /** The link, relative to the project folder, with `/`. */
  rel: string;
  abs: string;
  /** Where it leads (resolved). */
  target: string;
}

/**
 * Thrown by listProjectFiles when links lead out of the project: what they point to is not part
 * of the project (a deploy would copy /etc/passwd, or run code that changes behind its back).
 * A usage error (exit 2): nothing was deployed, rendered or built.
 */
export class OutsideLinksError extends CliError {
  readonly links: OutsideLink[];
  constructor(root: string, links: OutsideLink[]) {
    const lines = links.map(
      (l) =>
        `${displayPath(l.abs)}: links to ${l.target}, outside the project folder ${root} ` +
        `(only the project folder is deployed); fix: replace the link with a copy of what it points to ` +
        `(cp -rL), or list /${l.rel} in ${IGNORE_FILE} to leave it out`,
    );
    super(lines.join('\n'), ExitCode.Usage);
    this.name = 'OutsideLinksError';
    this.links = links;
  }
}

/**
 * The files a deploy takes from `projectDir`: everything but hidden files and folders, Python
 * bytecode, node_modules and what .cortexignore lists. `include` names files taken whatever
 * the rules say (the config file); `skipDirs` are absolute folders never entered. Symbolic links
 * are followed while they stay inside the project (their target is deployed under the link's
 * name); one that leads outside it, and is not ignored, throws OutsideLinksError naming every
 * such link. This is the one listing the local snapshot, the cluster bundle and `cortex build`
 * share.
 */
export function listProjectFiles(
  projectDir: string,
  options: { include?: string[]; skipDirs?: string[] } = {},
): ProjectFile[] {
  const root = path.resolve(projectDir);
  const realRoot = safeRealpath(root);
  let rules: IgnoreRule[] = [];
  try {
    rules = parseIgnore(readFileSync(path.join(root, IGNORE_FILE), 'utf8'));
  } catch {
    // no .cortexignore
  }
  const skipDirs = new Set((options.skipDirs ?? []).map((d) => path.resolve(d)));
  const seen = new Set<string>();
  const files = new Map<string, ProjectFile>();
  const outside: OutsideLink[] = [];
  const walk = (dir: string, relDir: string) => {
    const real = safeRealpath(dir);
    if (seen.has(real)) return; // a symlink loop
    seen.add(real);
    for (const name of readdirSync(dir).sort()) {
      if (alwaysSkipped(name)) continue;
      const abs = path.join(dir, name);
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      let stat;
      try {
        stat = statSync(abs); // follows symlinks: their target is deployed
      } catch {
        continue; // a dangling symlink
      }
      if (stat.isDirectory() ? skipDirs.has(abs) || isIgnored(rules, rel, true) : isIgnored(rules, rel, false)) {
        continue;
      }
      if (lstatSync(abs).isSymbolicLink()) {
        const target = safeRealpath(abs);
        const fromRoot = path.relative(realRoot, target);
        if (fromRoot.startsWith('..') || path.isAbsolute(fromRoot)) {
          outside.push({ rel, abs, target });
          continue;
        }
      }
      if (stat.isDirectory()) walk(abs, rel);
      else if (stat.isFile()) files.set(rel, { rel, abs, size: stat.size });
    }
  };
  walk(root, '');
  if (outside.length > 0) throw new OutsideLinksError(root, outside);
  for (const file of options.include ?? []) {
    const abs = path.resolve(file);
    const rel = path.relative(root, abs).split(path.sep).join('/');
    if (!rel.startsWith('..') && existsSync(abs)) files.set(rel, { rel, abs, size: statSync(abs).size });
  }
  return [...files.values()].sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

function safeRealpath(p: string): string {
  try {
    return realpathSync.native(p);
  } catch {
    return p;
  }
}

function hashFile(file: string, hash: ReturnType<typeof createHash>): void {
  const fd = openSync(file, 'r');
  const buffer = Buffer.allocUnsafe(1 << 20);
  try {
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Copies `files` into a new folder under `snapshotsDir` and hashes the copy (so the hash is
 * exactly what runs, even if the project changes meanwhile). Copies are reflinks where the
 * file system supports them.
 */
export function createSnapshot(files: ProjectFile[], snapshotsDir: string): Snapshot {
  mkdirSync(snapshotsDir, { recursive: true });
  const building = path.join(snapshotsDir, `.building-${process.pid}-${randomBytes(4).toString('hex')}`);
  const total = createHash('sha256');
  let bytes = 0;
  try {
    for (const file of files) {
      const target = path.join(building, ...file.rel.split('/'));
      mkdirSync(path.dirname(target), { recursive: true });
      copyFileSync(file.abs, target, constants.COPYFILE_FICLONE);
      const one = createHash('sha256');
      hashFile(target, one);
      total.update(file.rel).update('\0').update(one.digest()).update('\0');
      bytes += statSync(target).size;
    }
    const hash = total.digest('hex');
    const dir = path.join(snapshotsDir, `${hash.slice(0, 12)}-${randomBytes(3).toString('hex')}`);
    renameSync(building, dir);
    return { dir, hash, files: files.length, bytes };
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    throw error;
  }
}

export function removeSnapshot(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
