// Each peer's own virtual environment, built from its pinned requirements file on first use and
// reused while the file is unchanged: ~/.cache/cortex-bench-peers/<name>-<hash of the file>.
// A stamp written after pip succeeds marks a venv complete, so an interrupted build is redone.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const PEERS_CACHE = join(homedir(), '.cache', 'cortex-bench-peers');

/** The venv directory for a requirements file: the name plus the first 12 hex of its sha256. */
export function venvDir(name: string, requirements: string): string {
  const hash = createHash('sha256').update(readFileSync(requirements)).digest('hex').slice(0, 12);
  return join(PEERS_CACHE, `${name}-${hash}`);
}

/** Builds the venv unless a complete one exists; returns its python. Throws with pip's output. */
export function ensurePeerVenv(name: string, requirements: string, log: (msg: string) => void): string {
  const dir = venvDir(name, requirements);
  const python = join(dir, 'bin', 'python');
  const stamp = join(dir, '.complete');
  if (existsSync(stamp)) return python;
  log(`${name}: building ${dir} from ${requirements} (first use; cached afterwards) ...`);
  rmSync(dir, { recursive: true, force: true });
  const step = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) {
      const out = `${r.stdout}${r.stderr}`.trim().split('\n').slice(-8).join('\n');
      throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} ... failed:\n${out}`);
    }
  };
  step('python3', ['-m', 'venv', dir]);
  step(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirements]);
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
  return python;
}

/** `name==version` pins of a requirements file, for the run's version list. */
export function pinnedVersions(requirements: string, names: string[]): Record<string, string> {
  const text = readFileSync(requirements, 'utf8');
  const versions: Record<string, string> = {};
  for (const name of names) {
    const m = new RegExp(`^${name.replace(/[[\]]/g, '')}==(\\S+)`, 'im').exec(text);
    if (m) versions[name] = m[1];
  }
  return versions;
}
