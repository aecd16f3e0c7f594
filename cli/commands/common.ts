// What several commands share: the environment flag, confirmations.
import { createInterface } from 'node:readline/promises';
import { Option } from 'commander';
import { CliError, ExitCode } from '../errors.ts';
import { baseUrl, resolveEnvironment, type Environment, type LocalEnvironment } from '../environments.ts';
import { layout, type Layout } from '../local/paths.ts';
import { outputFormat, type OutputFormat } from '../output.ts';

export const envOption = () =>
  new Option(
    '-e, --env <name>',
    'environment to use: local or a cluster (default: the default environment, see cortex env list)',
  );
export const outputOption = () =>
  new Option('-o, --output <format>', 'output format: pretty or json').default('pretty');

export interface Target {
  layout: Layout;
  env: LocalEnvironment;
  /** What users call: http://localhost:8888 */
  baseUrl: string;
  /** What this machine's CLI calls (the loopback address when the gateway listens on all). */
  clientUrl: string;
}

/** The environment a command runs against: -e NAME, else the default one. */
export function environment(envName: string | undefined): Environment {
  return resolveEnvironment(layout(), envName);
}

/** Where the local environment's APIs are served. */
export function localTarget(env: LocalEnvironment): Target {
  const l = layout();
  const host =
    env.host === '0.0.0.0' || env.host === 'localhost'
      ? '127.0.0.1'
      : env.host === '::'
        ? '[::1]'
        : env.host.includes(':')
          ? `[${env.host}]`
          : env.host;
  return { layout: l, env, baseUrl: baseUrl(env), clientUrl: `http://${host}:${env.port}` };
}

export function format(flags: { output?: string }): OutputFormat {
  return outputFormat(flags.output);
}

/** Asks on a terminal; elsewhere (scripts) the answer is `otherwise`. */
export async function confirm(question: string, otherwise: boolean): Promise<boolean> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return otherwise;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export function notFound(name: string, known: string[]): CliError {
  return new CliError(
    known.length === 0
      ? `no API named ${name}: nothing is deployed`
      : `no API named ${name}; deployed: ${known.join(', ')}`,
    ExitCode.NotFound,
  );
}
