// Python dependencies: requirements.txt beside cortex.yaml is installed into a virtualenv
// cached by the hash of its contents (and of the interpreter), so a restart or a second
// replica reuses it instead of reinstalling — slow starts were Cortex's top complaint.
// The venv sees the interpreter's site-packages, so what the image already has is reused.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { Logger } from '../operator/util/log.ts';

export class DependencyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DependencyError';
  }
}

export function cacheRoot(): string {
  return (
    process.env.CORTEX_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'cortex')
  );
}

export function basePython(): string {
  return process.env.CORTEX_PYTHON ?? 'python3';
}

async function interpreterId(python: string): Promise<string> {
  const { stdout } = await execa(python, ['-c', 'import sys; print(sys.executable, sys.version)']);
  return stdout.trim();
}

/**
 * Returns the Python interpreter a worker should run: the base interpreter when there is no
 * requirements file, otherwise the cached virtualenv's (installing it first when missing).
 */
export async function preparePython(requirementsFile: string, logger: Logger): Promise<string> {
  const python = basePython();
  if (!existsSync(requirementsFile)) return python;
  const requirements = readFileSync(requirementsFile);
  const hash = createHash('sha256')
    .update(await interpreterId(python))
    .update('\0')
    .update(requirements)
    .digest('hex')
    .slice(0, 16);
  const venvs = path.join(cacheRoot(), 'venvs');
  const venv = path.join(venvs, hash);
  const venvPython = path.join(venv, 'bin', 'python');
  const marker = path.join(venv, '.cortex-complete');
  if (existsSync(marker)) {
    logger.info(`reusing cached dependencies for ${requirementsFile}`, { venv });
    return venvPython;
  }

  // Build in a private folder and rename it into place: replicas starting together on one
  // machine never see (or use) a half-installed environment.
  mkdirSync(venvs, { recursive: true });
  const building = `${venv}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  // A replica stopped mid-install must not leave a half-built environment in the cache.
  const removeBuilding = () => rmSync(building, { recursive: true, force: true });
  process.once('exit', removeBuilding);
  const started = Date.now();
  logger.info(`installing ${path.basename(requirementsFile)} into a cached virtualenv`, { venv });
  try {
    await execa(python, ['-m', 'venv', '--system-site-packages', building]);
    const pip = execa(
      path.join(building, 'bin', 'python'),
      ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-r', requirementsFile],
      { all: true, reject: false, env: { PIP_PROGRESS_BAR: 'off' } },
    );
    const output: string[] = [];
    pip.all?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        output.push(line);
        logger.info(line, { source: 'pip' });
      }
    });
    const result = await pip;
    if (result.exitCode !== 0) {
      const tail = output.slice(-5).join('\n');
      throw new DependencyError(
        `pip install -r ${requirementsFile} failed (exit ${result.exitCode}):\n${tail}\n` +
          'fix the requirement named above (check its spelling and version on https://pypi.org)',
      );
    }
  } catch (error) {
    process.off('exit', removeBuilding);
    removeBuilding();
    if (error instanceof DependencyError) throw error;
    throw new DependencyError(`could not create a virtualenv with ${python}: ${(error as Error).message}`);
  }
  process.off('exit', removeBuilding);
  writeFileSync(path.join(building, '.cortex-complete'), `${new Date().toISOString()}\n`);
  try {
    renameSync(building, venv);
  } catch {
    // Another replica finished first; its environment is equivalent.
    rmSync(building, { recursive: true, force: true });
  }
  logger.info(`dependencies installed in ${((Date.now() - started) / 1000).toFixed(1)} s`, { venv });
  return venvPython;
}

/** predictor.dependencies.shell's default: run when present, skipped when not. */
export const DEFAULT_SHELL_SCRIPT = 'dependencies.sh';

/** The file a project's conda packages were listed in (Cortex's default); refused when present. */
export const CONDA_FILE = 'conda-packages.txt';

export const CONDA_UNSUPPORTED =
  'conda is not supported: list pip packages in requirements.txt or install them in dependencies.sh';

/** A conda-packages.txt in the project would be ignored; stop instead of serving without it. */
export function refuseConda(projectDir: string): void {
  if (existsSync(path.join(projectDir, CONDA_FILE))) {
    throw new DependencyError(`${CONDA_UNSUPPORTED} (found ${CONDA_FILE} in the project folder; remove it)`);
  }
}

export interface ShellScript {
  /** The script, relative to the project folder (predictor.dependencies.shell). */
  script: string;
  /** Whether it was named explicitly; the default dependencies.sh runs only when present. */
  required: boolean;
  projectDir: string;
  /** Variables the script sees on top of the runtime's own (predictor.env). */
  env?: Record<string, string>;
}

/**
 * Runs `bash SCRIPT` in the project folder (Cortex's dependencies.sh: system packages, builds
 * from source), before pip, on every replica start. Each line it prints is one log line with
 * source "dependencies.sh". A failure throws a DependencyError whose message is one line.
 * Returns whether a script ran.
 */
export async function runShellDependencies(options: ShellScript, logger: Logger): Promise<boolean> {
  const file = path.resolve(options.projectDir, options.script);
  if (!existsSync(file)) {
    if (!options.required) return false;
    throw new DependencyError(`${options.script} not found in the project folder (predictor.dependencies.shell)`);
  }
  const started = Date.now();
  const fields = { source: 'dependencies.sh', script: options.script };
  logger.info(`running ${options.script}`, { script: options.script });
  // stderr joins stdout in the script's own process, so its lines keep the order they were written in.
  const child = execa('bash', ['-c', 'exec bash -- "$0" 2>&1', file], {
    cwd: options.projectDir,
    env: options.env ?? {},
    stdin: 'ignore',
    stderr: 'inherit',
    reject: false,
  });
  let last = '';
  let partial = '';
  const emit = (line: string) => {
    if (line.trim() === '') return;
    last = line;
    logger.info(line, fields);
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) emit(line.replace(/\r$/, ''));
  });
  const result = await child;
  emit(partial);
  if (result.failed) {
    const how =
      result.exitCode !== undefined
        ? `failed with exit code ${result.exitCode}`
        : result.signal
          ? `was killed by ${result.signal}`
          : `could not run: ${result.shortMessage}`;
    const said = last !== '' ? `; its last output: ${last.length > 300 ? `${last.slice(0, 300)}…` : last}` : '';
    throw new DependencyError(`${options.script} ${how}${said}`.replaceAll('\n', ' '));
  }
  logger.info(`${options.script} finished in ${((Date.now() - started) / 1000).toFixed(1)} s`, {
    script: options.script,
  });
  return true;
}
