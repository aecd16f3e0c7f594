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
