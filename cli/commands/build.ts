// `cortex build [CONFIG] -t IMAGE`: bakes the project (the files a cluster deploy's bundle holds),
// its requirements.txt and dependencies.sh into an image FROM the runtime image, with podman,
// buildah or docker, and prints the predictor.image line to put in cortex.yaml. Replicas of that
// image start without running dependencies.sh or pip: `cortex install-deps` ran them at build time.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Command, Option } from 'commander';
import { findBuilder, imageSize, isBuilderName, runBuilder, BUILDERS, type Builder } from '../build/builders.ts';
import { hasTag, invalidTag, writeContext } from '../build/context.ts';
import { loadOrExplain } from '../cluster/deploy.ts';
import { formatIssue, type LoadedProject } from '../config/index.ts';
import { CliError, ExitCode } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { colorsOf, printErr, printOut } from '../io.ts';
import { bytes, plural } from '../output.ts';
import { action, format, outputOption, type RunF } from './common.ts';

export const BuildOptions = Type.Object({
  config: Type.String(),
  tag: Type.String(),
  /** The APIs whose dependencies are baked; undefined: every API of cortex.yaml. */
  api: Type.Optional(Type.Array(Type.String())),
  base: Type.Optional(Type.String()),
  builder: Type.Optional(Type.String()),
  isolation: Type.Optional(Type.String()),
  network: Type.Optional(Type.String()),
  output: Type.String(),
});
export type BuildOptions = Static<typeof BuildOptions>;

/** What `-o json` prints. */
export interface BuildResult {
  image: string;
  builder: string;
  base: string;
  apis: string[];
  seconds: number;
  sizeBytes?: number;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

export function buildCommand(f: Factory, runF: RunF<BuildOptions> = runBuild): Command {
  return new Command('build')
    .description(
      'bake the project, its requirements.txt and dependencies.sh into an image FROM the runtime image ' +
        '(with podman, buildah or docker) and print the predictor.image line to use',
    )
    .argument('[config]', 'cortex.yaml, or the folder that holds it', '.')
    .requiredOption('-t, --tag <image>', 'the image to build, e.g. registry.example.com/team/iris:1.4')
    .option('--api <name>', 'bake the dependencies of this API only (repeatable; default: every API)', collect)
    .option(
      '--base <image>',
      'the image to build FROM (default: the runtime image of this version, its -gpu variant when an API has ' +
        'compute.gpu > 0)',
    )
    .addOption(
      new Option('--builder <name>', `the builder to run (default: the first installed of ${BUILDERS.join(', ')})`),
    )
    .option('--isolation <type>', "the builder's --isolation (podman, buildah: oci, rootless or chroot)")
    .option('--network <mode>', "the builder's --network for the RUN steps (e.g. host)")
    .addOption(outputOption())
    .action(action(BuildOptions, ['config'], (options) => runF(options, f)));
}

/** The default base: the runtime image, or its GPU variant when an API to bake uses a GPU. */
async function defaultBase(apis: LoadedProject['apis']): Promise<string> {
  // Imported here: only build needs the operator's two constants.
  const { DEFAULT_GPU_RUNTIME_IMAGE, DEFAULT_RUNTIME_IMAGE } = await import('../../operator/flags.ts');
  return apis.some((a) => a.spec.compute.gpu > 0) ? DEFAULT_GPU_RUNTIME_IMAGE : DEFAULT_RUNTIME_IMAGE;
}

function chooseBuilder(wanted: string | undefined): Builder {
  if (wanted !== undefined && !isBuilderName(wanted)) {
    throw new CliError(`--builder must be one of ${BUILDERS.join(', ')}, got "${wanted}"`, ExitCode.Usage);
  }
  const builder = findBuilder(wanted);
  if (builder !== undefined) return builder;
  throw new CliError(
    wanted !== undefined
      ? `${wanted} is not installed (not found on PATH); install it, or leave out --builder to use ` +
          `whichever of ${BUILDERS.join(', ')} is installed`
      : `no image builder found on PATH: install one of ${BUILDERS.join(', ')} ` +
          '(e.g. apt-get install podman, or dnf install podman)',
    ExitCode.Failed,
  );
}

function selectApis(project: LoadedProject, names: string[] | undefined): LoadedProject['apis'] {
  if (names === undefined) return project.apis;
  const known = project.apis.map((a) => a.name);
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    throw new CliError(
      `${unknown.length === 1 ? 'no API named' : 'no APIs named'} ${unknown.join(', ')} in ${project.file}; ` +
        `its APIs: ${known.join(', ')}`,
      ExitCode.NotFound,
    );
  }
  return project.apis.filter((a) => names.includes(a.name));
}

export async function runBuild(options: BuildOptions, f: Factory): Promise<void> {
  const io = f.io;
  const fmt = format(options);
  const e = colorsOf(io, 'stderr');
  const bad = invalidTag(options.tag);
  if (bad !== undefined) {
    throw new CliError(
      `-t ${JSON.stringify(options.tag)} is not a valid image reference: ${bad}; ` +
        'write NAME[:TAG], e.g. registry.example.com/team/iris:1.4 (lowercase name; tag: letters, digits, _ . -)',
      ExitCode.Usage,
    );
  }
  if (options.base !== undefined && options.base.trim() === '') throw new CliError('--base is empty', ExitCode.Usage);
  const project = loadOrExplain(options.config);
  for (const w of project.warnings) printErr(io, `${e.yellow('warning:')} ${formatIssue(w)}`);
  const apis = selectApis(project, options.api);
  const builder = chooseBuilder(options.builder);
  if (builder.name === 'docker' && options.isolation !== undefined && options.isolation !== 'default') {
    throw new CliError(
      '--isolation is for podman and buildah (docker on Linux has only its default isolation)',
      ExitCode.Usage,
    );
  }
  const base = options.base ?? (await defaultBase(apis));
  const names = apis.map((a) => a.name);
  if (!hasTag(options.tag)) {
    printErr(
      io,
      `${e.yellow('warning:')} ${options.tag} has no tag, so it is :latest; give each build its own tag ` +
        '(name:1.4) so that replicas run the image you built',
    );
  }
  const ca = process.env.NODE_EXTRA_CA_CERTS;
  const hostCa = ca !== undefined && ca !== '' ? realpathSync(ca) : undefined;

  const started = performance.now();
  const context = mkdtempSync(path.join(tmpdir(), 'cortex-build-'));
  try {
    const summary = writeContext(context, project, { base, apis: names, hostCa: hostCa !== undefined });
    printErr(
      io,
      `building ${options.tag} with ${builder.name} FROM ${base}: ${plural(summary.files, 'file')} ` +
        `(${bytes(summary.bytes)}), dependencies of ${names.join(', ')}`,
    );
    const { exitCode, tail } = await runBuilder(
      builder,
      { context, tag: options.tag, isolation: options.isolation, network: options.network, hostCa },
      (line) => printErr(io, e.dim(`  ${line}`)),
    );
    if (exitCode !== 0) {
      const last = tail.filter((l) => l.trim() !== '').at(-1) ?? '';
      throw new CliError(
        `${builder.name} build failed (exit code ${exitCode})${last === '' ? '' : `: ${last.trim()}`}; ` +
          'its output is above (a failing dependencies.sh or pip install names the script or requirement)',
        ExitCode.Failed,
      );
    }
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  const sizeBytes = await imageSize(builder, options.tag);
  const result: BuildResult = {
    image: options.tag,
    builder: builder.name,
    base,
    apis: names,
    seconds,
    ...(sizeBytes !== undefined ? { sizeBytes } : {}),
  };
  if (fmt === 'json') {
    printOut(io, JSON.stringify(result, null, 2));
    return;
  }
  printErr(
    io,
    `built ${options.tag} in ${seconds.toFixed(1)}s${sizeBytes !== undefined ? `, ${bytes(sizeBytes)}` : ''}`,
  );
  printOut(io, `predictor.image: ${options.tag}`);
  printErr(
    io,
    e.dim(
      `push it (${builder.name} push ${options.tag}), set predictor.image of ` +
        `${names.join(', ')} in cortex.yaml to it, then cortex deploy --no-bundle (the code is in the image)`,
    ),
  );
}
