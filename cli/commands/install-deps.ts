// `cortex install-deps DIR` (hidden): what the Containerfile of `cortex build` runs, as root,
// while the image is built. Runs each API's dependencies.sh and installs its requirements.txt
// into a virtualenv under CORTEX_BAKED_DEPS, recording both, so that the image's replicas start
// without running either again (runtime/deps.ts looks there first).
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Command } from 'commander';
import { loadProject } from '../config/load.ts';
import { ConfigError, explainConfigError } from '../config/errors.ts';
import { DependencyError, prepareDependencies } from '../../runtime/deps.ts';
import { apiLogger } from '../../operator/util/log.ts';
import { CliError, ExitCode } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { printErr } from '../io.ts';
import { action, type RunF } from './common.ts';

export const InstallDepsOptions = Type.Object({
  config: Type.String(),
  api: Type.Optional(Type.Array(Type.String())),
  into: Type.Optional(Type.String()),
});
export type InstallDepsOptions = Static<typeof InstallDepsOptions>;

export function installDepsCommand(f: Factory, runF: RunF<InstallDepsOptions> = runInstallDeps): Command {
  return new Command('install-deps')
    .description("run the APIs' dependencies.sh and install their requirements into an image (cortex build)")
    .argument('[config]', 'cortex.yaml, or the folder that holds it', '.')
    .option('--api <name...>', 'only these APIs (default: every API of cortex.yaml)')
    .option('--into <dir>', 'where to record them (default: $CORTEX_BAKED_DEPS, which the image keeps)')
    .action(action(InstallDepsOptions, ['config'], (options) => runF(options, f)));
}

export async function runInstallDeps(options: InstallDepsOptions, f: Factory): Promise<void> {
  const into = options.into ?? process.env.CORTEX_BAKED_DEPS;
  if (into === undefined || into === '') {
    throw new CliError(
      'install-deps needs a folder to install into: set CORTEX_BAKED_DEPS (cortex build does) or pass --into DIR',
      ExitCode.Usage,
    );
  }
  let project;
  try {
    project = loadProject(path.resolve(options.config));
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(explainConfigError(error), ExitCode.Usage);
    throw error;
  }
  const names = project.apis.map((a) => a.name);
  const unknown = (options.api ?? []).filter((n) => !names.includes(n));
  if (unknown.length > 0) {
    throw new CliError(
      `${project.file} has no API named ${unknown.map((n) => `"${n}"`).join(', ')}; it lists: ${names.join(', ')}`,
      ExitCode.Usage,
    );
  }
  // an image keeps no pip download cache: it would only make the image bigger
  process.env.PIP_NO_CACHE_DIR ??= '1';
  for (const api of project.apis) {
    if (options.api !== undefined && !options.api.includes(api.name)) continue;
    const predictor = api.spec.predictor;
    if (predictor === undefined) {
      printErr(f.io, `${api.name} runs its own containers (pod): nothing to install`);
      continue;
    }
    printErr(f.io, `installing the dependencies of ${api.name}`);
    const logger = apiLogger(api.name, predictor.logLevel);
    try {
      await prepareDependencies(predictor, project.dir, logger, path.resolve(into));
    } catch (error) {
      logger.flush();
      if (error instanceof DependencyError) throw new CliError(`${api.name}: ${error.message}`, ExitCode.Failed);
      throw error;
    }
    logger.flush();
  }
}
