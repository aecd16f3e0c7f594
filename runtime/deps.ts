// Python dependencies: requirements.txt beside cortex.yaml is installed into a virtualenv cached
// by the hash of its contents and of the interpreter (venv-cache.ts), so a restart or a second
// replica on the same machine or node reuses it instead of reinstalling: slow starts were
// Cortex's top complaint. An image made by `cortex build` carries its virtualenvs already
// (CORTEX_BAKED_DEPS), looked up first. The venv sees the interpreter's site-packages, so what the
// image already has is reused; that is why the image's Python packages are part of the key.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parseMemBytes, type PredictorSpec } from '../operator/api/v1alpha1/index.ts';
import type { Logger } from '../operator/util/log.ts';
import { ensureVenv, evict, findVenv, keptInterpreterId, markUsed } from './venv-cache.ts';

export class DependencyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DependencyError';
  }
}

/** Where virtualenvs are cached: CORTEX_CACHE_DIR (a node's hostPath in a cluster), else ~/.cache/cortex. */
export function cacheRoot(): string {
  return (
    process.env.CORTEX_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'cortex')
  );
}

/** The cache's size cap in bytes (CORTEX_CACHE_MAX_SIZE: 20Gi, 500M, ...); undefined: no cap. */
export function cacheMaxBytes(): number | undefined {
  const raw = process.env.CORTEX_CACHE_MAX_SIZE;
  if (raw === undefined || raw === '') return undefined;
  try {
    return parseMemBytes(raw);
  } catch {
    throw new DependencyError(`CORTEX_CACHE_MAX_SIZE must be a size like 20Gi or 500M, got "${raw}"`);
  }
}

/** The dependencies `cortex build` installed into the image (read-only at run time), if any. */
export function bakedRoot(): string | undefined {
  const dir = process.env.CORTEX_BAKED_DEPS;
  return dir !== undefined && dir !== '' ? dir : undefined;
}

export function basePython(): string {
  return process.env.CORTEX_PYTHON ?? 'python3';
}

// The interpreter, its version and the distributions its own site-packages hold: a venv made with
// --system-site-packages relies on them, so an image with other packages must not reuse it. The
// last line lists the folders the distributions are read from (interpreterId's own cache).
const IDENTIFY = `
import importlib.metadata as m, json, sys
names = sorted(f"{d.metadata['Name']}=={d.version}" for d in m.distributions())
print(sys.executable, sys.version, *names)
print(json.dumps([p for p in sys.path if p]))
`;

/**
 * The interpreter's identity (the venv cache key's part). Asking Python takes 0.2 s or more of every
 * replica start, a large part of a wake from zero: the answer is kept in the cache (venv-cache.ts).
 */
async function interpreterId(python: string): Promise<string> {
  return keptInterpreterId(cacheRoot(), python, async () => {
    const out = (await execa(python, ['-c', IDENTIFY])).stdout.trim();
    const cut = out.lastIndexOf('\n');
    return { id: out.slice(0, cut).trim(), folders: JSON.parse(out.slice(cut + 1)) as string[] };
  });
}

/** The cache key of `requirements` installed on `python`. */
export async function venvKey(python: string, requirements: Buffer): Promise<string> {
  const id = await interpreterId(python);
  return createHash('sha256').update(id).update('\0').update(requirements).digest('hex').slice(0, 16);
}

export interface PrepareOptions {
  /** Install into this cache instead of cacheRoot(), ignoring the baked one (cortex install-deps). */
  into?: string;
  /** Requirements installed with the file (runtimeRequirements): part of the cache key. */
  extra?: readonly string[];
}

/** Predictor types whose predictor runs in a Python worker (runtime/python/cortex_host.py). */
export function runsInPython(type: string): boolean {
  return type === 'python' || type === 'onnx';
}

/**
 * What the runtime itself needs in a predictor type's Python, pinned: Cortex's onnx image carried
 * onnxruntime and numpy, so Cortex projects do not list them. Pins the project's requirements
 * file names itself are left to it (two pins of one package would make pip fail).
 */
export const TYPE_REQUIREMENTS: Readonly<Record<string, readonly string[]>> = {
  onnx: ['onnxruntime==1.32.0', 'numpy==2.4.6'],
};

/**
 * What a gRPC API's worker needs (predictor.protobufPath): grpcio-tools compiles the .proto at
 * init, protobuf decodes and encodes the messages (runtime/python/cortex_grpc.py). Cortex's
 * images carried both (and grpcio, which grpcio-tools brings: handlers import grpc for its
 * StatusCode).
 */
export const GRPC_REQUIREMENTS: readonly string[] = ['grpcio-tools==1.76.0', 'protobuf==6.33.6'];

/**
 * The runtime's requirements for `type` (and for a gRPC API, `grpc`) that `requirementsFile`
 * (when present) does not name.
 */
export function runtimeRequirements(type: string, requirementsFile: string, grpc = false): string[] {
  const wanted = [...(TYPE_REQUIREMENTS[type] ?? []), ...(grpc ? GRPC_REQUIREMENTS : [])];
  if (wanted.length === 0) return [];
  const listed = existsSync(requirementsFile)
    ? new Set(
        readFileSync(requirementsFile, 'utf8')
          .split('\n')
          .map((l) => l.replace(/#.*$/, '').trim())
          .filter((l) => l !== '' && !l.startsWith('-'))
          .map((l) => normalizeName(nameOf(l))),
      )
    : new Set<string>();
  return wanted.filter((r) => !listed.has(normalizeName(nameOf(r))));
}

/**
 * Returns the Python interpreter a worker should run: the base interpreter when there is no
 * requirements file, otherwise the cached virtualenv's (installing it first when missing).
 */
export async function preparePython(
  requirementsFile: string,
  logger: Logger,
  options: PrepareOptions = {},
): Promise<string> {
  const python = basePython();
  const extra = options.extra ?? [];
  const hasFile = existsSync(requirementsFile);
  if (!hasFile && extra.length === 0) return python;
  const requirements = Buffer.concat([
    hasFile ? readFileSync(requirementsFile) : Buffer.alloc(0),
    // the runtime's own requirements change the key only when there are some (old keys stay valid)
    Buffer.from(extra.length > 0 ? `\0${extra.join('\n')}` : ''),
  ]);
  const key = await venvKey(python, requirements);
  const baked = options.into === undefined ? bakedRoot() : undefined;
  const inImage = baked !== undefined ? findVenv(baked, key) : undefined;
  if (inImage) {
    logger.info(`using the dependencies baked into the image for ${requirementsFile}`, { venv: inImage });
    return path.join(inImage, 'bin', 'python');
  }

  const root = options.into ?? cacheRoot();
  const maxBytes = cacheMaxBytes();
  const started = Date.now();
  const { venv, installed } = await ensureVenv(
    root,
    key,
    async (folder) => {
      logger.info(`installing ${path.basename(requirementsFile)} into a cached virtualenv`, { venv: folder });
      await installRequirements(python, folder, hasFile ? requirementsFile : undefined, extra, logger);
    },
    logger,
  );
  if (installed) {
    logger.info(`dependencies installed in ${((Date.now() - started) / 1000).toFixed(1)} s`, { venv });
    if (maxBytes !== undefined) evict(root, maxBytes, key, logger);
  } else {
    logger.info(`reusing cached dependencies for ${requirementsFile}`, { venv });
  }
  if (options.into === undefined) markUsed(venv);
  return path.join(venv, 'bin', 'python');
}

/** `python -m venv` + `pip install -r` into `folder`, pip's output as log lines (source "pip"). */
async function installRequirements(
  python: string,
  folder: string,
  requirementsFile: string | undefined,
  extra: readonly string[],
  logger: Logger,
) {
  try {
    await execa(python, ['-m', 'venv', '--system-site-packages', folder]);
  } catch (error) {
    throw new DependencyError(`could not create a virtualenv with ${python}: ${(error as Error).message}`);
  }
  const pip = execa(
    path.join(folder, 'bin', 'python'),
    [
      '-m',
      'pip',
      'install',
      '--disable-pip-version-check',
      '--no-input',
      ...(requirementsFile !== undefined ? ['-r', requirementsFile] : []),
      ...extra,
    ],
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
    const version = await pythonVersion(path.join(folder, 'bin', 'python'));
    const written = requirementsFile !== undefined ? readFileSync(requirementsFile, 'utf8') : '';
    const fix = pipFailureFix(output, written, `${python}, Python ${version}`);
    const what = [...(requirementsFile !== undefined ? [`-r ${requirementsFile}`] : []), ...extra].join(' ');
    throw new DependencyError(`pip install ${what} failed (exit ${result.exitCode}):\n${tail}\n${fix}`);
  }
}

async function pythonVersion(python: string): Promise<string> {
  try {
    const r = await execa(python, ['-c', 'import platform; print(platform.python_version())']);
    return r.stdout.trim();
  } catch {
    return 'version unknown';
  }
}

/** PEP 503's comparable form of a distribution name: scikit_learn, Scikit.Learn → scikit-learn. */
const normalizeName = (name: string) => name.toLowerCase().replace(/[-_.]+/g, '-');

/**
 * The last line of a failed install's error (the termination message in a cluster): which
 * requirement failed, on which Python, and how to fix it. pip's own last lines often name no
 * package (a build that failed says "metadata-generation-failed"), so the requirement comes from
 * pip's error lines, else the last "Collecting" line, and is shown as written in requirements.txt.
 * `python`: the interpreter and its version, e.g. "python3, Python 3.11.2".
 */
export function pipFailureFix(output: readonly string[], requirements: string, python: string): string {
  const text = output.join('\n');
  const lines = requirements.split('\n');
  let spec: string | undefined;
  let lineNo: number | undefined;
  for (const pattern of [
    /No matching distribution found for (\S+)/,
    /Could not find a version that satisfies the requirement (\S+)/,
    /Failed building wheel for (\S+)/,
    /Failed to build installable wheels for some pyproject\.toml based projects \(([^),\s]+)/,
    /Could not build wheels for ([^,\s]+)/,
    /^Failed to build (\S+)/m,
  ]) {
    spec = pattern.exec(text)?.[1];
    if (spec !== undefined) break;
  }
  // "Collecting numpy (from scikit-learn==0.21.3->-r requirements.txt (line 1))": the line it came from
  const collecting = [...text.matchAll(/^\s*Collecting (\S+)(.*)$/gm)].at(-1);
  if (spec === undefined && collecting !== undefined) spec = collecting[1];
  const from =
    collecting !== undefined &&
    (spec === undefined || normalizeName(nameOf(spec)) === normalizeName(nameOf(collecting[1])))
      ? /\(line (\d+)\)\)?\s*$/.exec(collecting[2])
      : null;
  if (from) lineNo = Number(from[1]);
  if (spec !== undefined && lineNo === undefined) {
    const wanted = normalizeName(nameOf(spec));
    const index = lines.findIndex((l) => normalizeName(nameOf(l.trim())) === wanted);
    if (index >= 0) lineNo = index + 1;
  }
  const written = lineNo !== undefined ? lines[lineNo - 1]?.replace(/\s+#.*$/, '').trim() : undefined;
  const requirement = written || spec;
  const advice =
    'check its spelling and versions on https://pypi.org; an old pin may have no release or wheel for this ' +
    'Python (Cortex ran Python 3.6): choose a version that supports it, or set CORTEX_PYTHON to an older ' +
    'interpreter for cortex serve and local deploys';
  if (requirement === undefined) return `fix the requirement named above: it does not install on ${python} (${advice})`;
  const where = lineNo !== undefined ? ` (requirements.txt line ${lineNo})` : '';
  return `fix the requirement ${requirement}${where}: it does not install on ${python} (${advice})`;
}

/** The distribution name at the start of a requirement ("scikit-learn==0.21.3" → "scikit-learn"). */
function nameOf(spec: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*/.exec(spec)?.[0] ?? spec;
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
  /** Record in this folder that the script ran (cortex install-deps, while an image is built). */
  bakeInto?: string;
}

/** The file that records that `file` ran with `env` when the image was built. */
function bakedShellRecord(root: string, file: string, env: Record<string, string> = {}): string {
  const sorted = Object.keys(env)
    .sort()
    .map((k) => `${k}=${env[k]}`);
  const hash = createHash('sha256').update(readFileSync(file)).update('\0').update(sorted.join('\0'));
  return path.join(root, 'shell', hash.digest('hex').slice(0, 16));
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
  // while an image is built: already run for another API of the project
  const baked = options.bakeInto ?? bakedRoot();
  if (baked !== undefined && existsSync(bakedShellRecord(baked, file, options.env))) {
    logger.info(`${options.script} ran when the image was built (cortex build); not running it again`, {
      script: options.script,
    });
    return false;
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
  if (options.bakeInto !== undefined) {
    const record = bakedShellRecord(options.bakeInto, file, options.env);
    mkdirSync(path.dirname(record), { recursive: true });
    writeFileSync(record, `${options.script}\n`);
  }
  return true;
}

/**
 * Everything a replica needs before its workers start, in Cortex's order: conda refused,
 * dependencies.sh (it may install what pip needs), then requirements.txt for a Python predictor.
 * Returns the interpreter Python workers run. With `bakeInto` (cortex install-deps), both are
 * recorded in that folder so that the image's replicas skip them.
 */
export async function prepareDependencies(
  predictor: PredictorSpec,
  projectDir: string,
  logger: Logger,
  bakeInto?: string,
): Promise<string | undefined> {
  refuseConda(projectDir);
  const shell = predictor.dependencies.shell;
  await runShellDependencies(
    { script: shell, required: shell !== DEFAULT_SHELL_SCRIPT, projectDir, env: predictor.env, bakeInto },
    logger,
  );
  if (!runsInPython(predictor.type)) return undefined;
  const file = path.resolve(projectDir, predictor.dependencies.pip);
  const extra = runtimeRequirements(predictor.type, file, predictor.protobufPath !== undefined);
  return preparePython(file, logger, { into: bakeInto, extra });
}
