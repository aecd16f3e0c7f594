// What several commands share: the environment flag, confirmations.
import { createInterface } from 'node:readline/promises';
import { Option } from 'commander';
import { CliError, ExitCode } from '../errors.ts';
import { baseUrl, resolveEnvironment, type LocalEnvironment } from '../local/environments.ts';
import { layout, type Layout } from '../local/paths.ts';
import { outputFormat, type OutputFormat } from '../output.ts';

export const envOption = () => new Option('-e, --env <name>', 'environment to use (default: the default environment, local)');
export const outputOption = () => new Option('-o, --output <format>', 'output format: pretty or json').default('pretty');

export interface Target {
  layout: Layout;
  env: LocalEnvironment;
  /** What users call: http://localhost:8888 */
  baseUrl: string;
  /** What this machine's CLI calls (the loopback address when the gateway listens on all). */
  clientUrl: string;
}

export function target(envName: string | undefined): Target {
  const l = layout();
  const env = resolveEnvironment(l, envName);
  const host = env.host === '0.0.0.0' || env.host === 'localhost' ? '127.0.0.1' : env.host === '::' ? '[::1]' : env.host.includes(':') ? `[${env.host}]` : env.host;
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
    known.length === 0 ? `no API named ${name}: nothing is deployed` : `no API named ${name}; deployed: ${known.join(', ')}`,
    ExitCode.NotFound,
  );
}
