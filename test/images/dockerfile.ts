// What a Dockerfile's final image holds and runs, read with dockerfile-ast (the parser of the
// VS Code Docker extension) and .dockerignore with @balena/dockerignore (Docker's own matching
// rules): no Docker engine exists here, so tests lay out the files the image would get in a
// folder and run its entrypoint from there as a process.

import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import dockerignore from '@balena/dockerignore';
import { DockerfileParser } from 'dockerfile-ast';
import { repoRoot } from './hadolint.ts';

// The package's types declare an ES default export, but it is CommonJS (module.exports = factory).
const ignore = dockerignore as unknown as typeof dockerignore.default;

export interface Copy {
  /** The stage or image copied from (COPY --from); undefined: the build context. */
  from?: string;
  sources: string[];
  /** Absolute path in the image (WORKDIR applied). */
  dest: string;
}

export interface Image {
  file: string;
  /** Base image of the final stage, build args expanded with their defaults. */
  base: string;
  /** Stages before the final one: name → base image. */
  stages: Record<string, string>;
  copies: Copy[];
  runs: string[];
  user?: string;
  workdir: string;
  entrypoint: string[];
  cmd: string[];
}

/** Reads `file` (relative to the repository root). */
export function readDockerfile(file: string): Image {
  const text = readFileSync(path.join(repoRoot, file), 'utf8');
  const df = DockerfileParser.parse(text);
  const args: Record<string, string> = {};
  for (const a of df.getInitialARGs()) {
    const p = a.getProperty();
    if (p?.getName()) args[p.getName()] = p.getValue() ?? '';
  }
  const expand = (s: string) => s.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => args[name] ?? '');
  const froms = df.getFROMs();
  if (froms.length === 0) throw new Error(`${file}: no FROM`);
  const stages: Record<string, string> = {};
  for (const f of froms.slice(0, -1)) stages[f.getBuildStage() ?? ''] = expand(f.getImage() ?? '');
  const final = froms[froms.length - 1];
  const image: Image = {
    file,
    base: expand(final.getImage() ?? ''),
    stages,
    copies: [],
    runs: [],
    workdir: '/',
    entrypoint: [],
    cmd: [],
  };
  const finalLine = final.getRange().start.line;
  for (const ins of df.getInstructions()) {
    if (ins.getRange().start.line <= finalLine) continue;
    const keyword = ins.getKeyword();
    const words = ins.getArguments().map((a) => a.getValue());
    if (keyword === 'WORKDIR') image.workdir = path.posix.resolve(image.workdir, words[0]);
    else if (keyword === 'USER') image.user = words[0];
    else if (keyword === 'RUN') image.runs.push(ins.getArgumentsContent() ?? '');
    else if (keyword === 'ENTRYPOINT' || keyword === 'CMD' || keyword === 'COPY') {
      const json = (ins as unknown as { getJSONStrings(): { getJSONValue(): string }[] })
        .getJSONStrings()
        .map((s) => s.getJSONValue());
      if (keyword === 'COPY') {
        const flags = (ins as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] }).getFlags();
        const from = flags.find((f) => f.getName() === 'from')?.getValue() ?? undefined;
        const paths = json.length > 0 ? json : words.filter((w) => !w.startsWith('--'));
        const dest = path.posix.resolve(image.workdir, paths[paths.length - 1]);
        image.copies.push({
          from,
          sources: paths.slice(0, -1),
          dest: paths[paths.length - 1].endsWith('/') ? `${dest}/` : dest,
        });
      } else {
        if (json.length === 0)
          throw new Error(`${file}: ${keyword} must use the JSON (exec) form, so signals reach the process`);
        image[keyword === 'CMD' ? 'cmd' : 'entrypoint'] = json;
      }
    }
  }
  return image;
}

/** Files of the build context (the repository root) that .dockerignore lets through, relative paths. */
export function contextFiles(): string[] {
  const ig = ignore().add(readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8'));
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(repoRoot, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (e.name === '.git' || e.name === 'node_modules') continue; // large, and ignored anyway
        walk(p);
      } else out.push(p);
    }
  };
  walk('');
  return ig.filter(out);
}

/**
 * Lays out in `root` what the final image holds from the build context (COPY without --from,
 * through .dockerignore), `node_modules` from a production-only install (`prodModules`) for a
 * COPY from the deps stage, and the symlinks its RUN lines make with `ln -s`. Other RUN lines
 * (apt-get, useradd) change nothing the entrypoints need from this repository.
 */
export function layOut(image: Image, root: string, prodModules: string): void {
  const context = new Set(contextFiles());
  for (const c of image.copies) {
    if (c.from !== undefined) {
      if (c.sources.some((s) => s.endsWith('node_modules'))) {
        mkdirSync(path.dirname(path.join(root, c.dest)), { recursive: true });
        symlinkSync(prodModules, path.join(root, c.dest));
      }
      continue; // e.g. the node binary of the GPU variant: this process' node stands in
    }
    for (const src of c.sources) {
      const prefix = src.replace(/\/$/, '');
      const files = [...context].filter((f) => f === prefix || f.startsWith(`${prefix}/`));
      if (files.length === 0)
        throw new Error(`${image.file}: COPY ${src}: nothing in the build context (is it in .dockerignore?)`);
      for (const f of files) {
        // Docker's COPY: a directory's contents go into dest; a file into dest/ or as dest
        const inImage =
          f !== prefix
            ? path.posix.join(c.dest, path.posix.relative(prefix, f))
            : c.dest.endsWith('/')
              ? path.posix.join(c.dest, path.posix.basename(f))
              : c.dest;
        const target = path.join(root, inImage);
        mkdirSync(path.dirname(target), { recursive: true });
        cpSync(path.join(repoRoot, f), target, { preserveTimestamps: true });
      }
    }
  }
  for (const run of image.runs) {
    for (const [, from, to] of run.matchAll(/\bln -s (\S+) (\S+)/g)) {
      mkdirSync(path.join(root, path.dirname(to)), { recursive: true });
      symlinkSync(path.join(root, from), path.join(root, to));
    }
  }
  if (!existsSync(path.join(root, image.workdir))) mkdirSync(path.join(root, image.workdir), { recursive: true });
}

/** Where a path of the image comes from in the repository (a COPY from the build context). */
export function repoPathOf(image: Image, inImage: string): string {
  for (const c of image.copies) {
    if (c.from !== undefined) continue;
    for (const src of c.sources) {
      const prefix = src.replace(/\/$/, '');
      if (statSync(path.join(repoRoot, prefix)).isDirectory()) {
        const dir = c.dest.replace(/\/$/, '');
        if (inImage.startsWith(`${dir}/`)) return path.join(repoRoot, prefix, path.posix.relative(dir, inImage));
      } else if (inImage === (c.dest.endsWith('/') ? path.posix.join(c.dest, path.posix.basename(prefix)) : c.dest)) {
        return path.join(repoRoot, prefix);
      }
    }
  }
  throw new Error(`${image.file}: nothing is copied to ${inImage}`);
}
