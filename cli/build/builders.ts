// The image builders `cortex build` drives: podman, buildah or docker, whichever is installed
// (looked for in that order on PATH), with the same Containerfile and context for each.
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { CA_SECRET_ID, CA_TARGET, CONTAINERFILE } from './context.ts';

export const BUILDERS = ['podman', 'buildah', 'docker'] as const;
export type BuilderName = (typeof BUILDERS)[number];

export function isBuilderName(name: string): name is BuilderName {
  return (BUILDERS as readonly string[]).includes(name);
}

export interface Builder {
  name: BuilderName;
  /** The executable found on PATH. */
  path: string;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Where `name` is on PATH (`searchPath`: a PATH value), or undefined. */
export function which(name: string, searchPath: string | undefined = process.env.PATH): string | undefined {
  for (const dir of (searchPath ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const file = path.join(dir, name);
    if (executable(file)) return file;
  }
  return undefined;
}

/** The builder asked for, else the first of BUILDERS on PATH; undefined when none is there. */
export function findBuilder(wanted: BuilderName | undefined, searchPath?: string): Builder | undefined {
  for (const name of wanted === undefined ? BUILDERS : [wanted]) {
    const file = which(name, searchPath);
    if (file !== undefined) return { name, path: file };
  }
  return undefined;
}

export interface BuildRequest {
  context: string;
  tag: string;
  /** --isolation (podman, buildah: oci, rootless or chroot). */
  isolation?: string;
  /** --network for the RUN steps (e.g. host). */
  network?: string;
  /** The host's CA bundle, mounted as the CA_SECRET_ID secret into the RUN step. */
  hostCa?: string;
}

/** The builder's arguments: `build -f CONTEXT/Containerfile -t TAG ... CONTEXT`. */
export function buildArgs(builder: BuilderName, request: BuildRequest): string[] {
  const args = ['build', '-f', path.join(request.context, CONTAINERFILE), '-t', request.tag];
  if (request.isolation !== undefined) args.push('--isolation', request.isolation);
  if (request.network !== undefined) args.push('--network', request.network);
  if (request.hostCa !== undefined) {
    // A secret mount for all three (docker: BuildKit, its default builder since Docker 23).
    args.push('--secret', `id=${CA_SECRET_ID},src=${request.hostCa}`);
    for (const name of ['NODE_EXTRA_CA_CERTS', 'PIP_CERT']) args.push('--build-arg', `${name}=${CA_TARGET}`);
  }
  args.push(request.context);
  return args;
}

/**
 * Runs the build, handing each line the builder prints on stdout or stderr to `onLine`;
 * returns the exit code and the last lines, for the error.
 */
export async function runBuilder(
  builder: Builder,
  request: BuildRequest,
  onLine: (line: string) => void,
): Promise<{ exitCode: number; tail: string[] }> {
  const child = execa(builder.path, buildArgs(builder.name, request), {
    reject: false,
    stdin: 'ignore',
    buffer: false,
  });
  const tail: string[] = [];
  const emit = (line: string) => {
    tail.push(line);
    if (tail.length > 10) tail.shift();
    onLine(line);
  };
  // stdout and stderr split into lines each on its own, so that their lines never mix
  const partials = [child.stdout, child.stderr].map((stream) => {
    const state = { partial: '' };
    stream?.on('data', (chunk: Buffer) => {
      const lines = (state.partial + chunk.toString('utf8')).split('\n');
      state.partial = lines.pop() ?? '';
      for (const line of lines) emit(line.replace(/\r$/, ''));
    });
    return state;
  });
  const result = await child;
  for (const { partial } of partials) if (partial !== '') emit(partial);
  if (result.exitCode === undefined) {
    throw new Error(`${builder.name} could not run: ${result.shortMessage ?? 'unknown error'}`);
  }
  return { exitCode: result.exitCode, tail };
}

/** The image's size in bytes as the builder reports it (undefined when it does not say: buildah). */
export async function imageSize(builder: Builder, tag: string): Promise<number | undefined> {
  if (builder.name === 'buildah') return undefined;
  const r = await execa(builder.path, ['image', 'inspect', '--format', '{{.Size}}', tag], { reject: false });
  const size = Number(r.exitCode === 0 ? String(r.stdout).trim() : NaN);
  return Number.isFinite(size) && size > 0 ? size : undefined;
}
