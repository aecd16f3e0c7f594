// `cortex version`: the CLI's version and the Node it runs on.
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { Command } from 'commander';
import { CliError, ExitCode } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { printOut } from '../io.ts';
import { action, type RunF } from './common.ts';

export const VersionOptions = Type.Object({ output: Type.String() });
export type VersionOptions = Static<typeof VersionOptions>;

const Package = Type.Object({ version: Type.String() });

export function versionInfo(): { version: string; node: string } {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  if (!Value.Check(Package, pkg)) throw new CliError('package.json has no version', ExitCode.Failed);
  return { version: pkg.version, node: process.version };
}

export function runVersion(options: VersionOptions, f: Factory): void {
  const info = versionInfo();
  if (options.output === 'json') printOut(f.io, JSON.stringify(info));
  else printOut(f.io, `cortex ${info.version} (node ${info.node})`);
}

export function versionCommand(f: Factory, runF: RunF<VersionOptions> = runVersion): Command {
  return new Command('version')
    .description('print the version of the cortex CLI and runtime')
    .option('-o, --output <format>', 'pretty or json', 'pretty')
    .action(action(VersionOptions, [], (options) => runF(options, f)));
}
