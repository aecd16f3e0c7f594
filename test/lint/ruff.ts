// `node test/lint/ruff.ts check|fix`: Ruff on the project's Python, with the settings and the
// file list in ruff.toml. `check` (npm run lint) fails on lint findings and on unformatted
// files; `fix` (npm run fix) applies Ruff's safe fixes and formats. Ruff comes from PyPI into
// ~/.cache/cortex-ruff/<version> ($CORTEX_RUFF_DIR overrides), like hadolint.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { ensurePypiTool, type PypiTool } from '../helpers/pypi-tool.ts';

export const RUFF: PypiTool = { command: 'ruff', distribution: 'ruff', version: '0.17.6', dirEnv: 'CORTEX_RUFF_DIR' };
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs `ruff args...` in the repository root with its output on ours; resolves to its exit code. */
async function ruff(bin: string, args: string[]): Promise<number> {
  const r = await execa(bin, args, { cwd: repoRoot, reject: false, stdio: 'inherit' });
  return r.exitCode ?? 1;
}

export async function runRuff(mode: 'check' | 'fix'): Promise<number> {
  const bin = await ensurePypiTool(RUFF);
  if (mode === 'fix') return (await ruff(bin, ['check', '--fix', '.'])) || (await ruff(bin, ['format', '.']));
  const lint = await ruff(bin, ['check', '.']);
  const format = await ruff(bin, ['format', '--check', '.']);
  return lint || format;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const mode = process.argv[2];
  if (mode !== 'check' && mode !== 'fix') {
    process.stderr.write('usage: node test/lint/ruff.ts check|fix\n');
    process.exit(2);
  }
  process.exitCode = await runRuff(mode);
}
