// What every bench run prints first and keeps in its JSON: the machine, the versions and the
// commit, so a figure can always be traced to where, when and on what code it was measured.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface RunInfo {
  date: string;
  /** Short commit hash, with "+dirty" when the work tree has uncommitted changes. */
  commit: string;
  machine: { cpu: string; cores: number; memoryGiB: number; kernel: string; os: string };
  /** Tool and package versions: node, python, and whatever the bench adds. */
  versions: Record<string, string>;
}

function output(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function osName(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Collects the run's context; `versions` adds the bench's own (a load generator, peers' packages). */
export function runInfo(versions: Record<string, string> = {}): RunInfo {
  const head = output('git', ['rev-parse', '--short', 'HEAD']) ?? 'unknown';
  const dirty = (output('git', ['status', '--porcelain', '--untracked-files=no']) ?? '') !== '';
  return {
    date: new Date().toISOString(),
    commit: dirty ? `${head}+dirty` : head,
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      kernel: output('uname', ['-r']) ?? 'unknown',
      os: osName(),
    },
    versions: {
      node: process.version,
      python: output('python3', ['--version'])?.replace(/^Python /, '') ?? 'unknown',
      ...versions,
    },
  };
}

/** The same, as the lines a bench prints before its results. */
export function formatRunInfo(info: RunInfo): string {
  const m = info.machine;
  const versions = Object.entries(info.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  return [
    `run: ${info.date}, commit ${info.commit}`,
    `machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, ${m.os}, Linux ${m.kernel}`,
    `versions: ${versions}`,
  ].join('\n');
}
