// What several commands share: the environment flag, parsing flags at the boundary,
// confirmations, the not-found error.
import { Command, Option } from 'commander';
import type { Static, TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { CliError, ExitCode } from '../errors.ts';
import type { Factory } from '../factory.ts';
import type { IOStreams } from '../io.ts';
import { outputFormat, type OutputFormat } from '../output.ts';

export type { Target } from '../factory.ts';

export const envOption = () =>
  new Option(
    '-e, --env <name>',
    'environment to use: local or a cluster (default: the default environment, see cortex env list)',
  );
export const outputOption = () =>
  new Option('-o, --output <format>', 'output format: pretty or json').default('pretty');

/** Checks what commander parsed against a command's options schema: the typed options object. */
export function parseOptions<T extends TObject>(schema: T, raw: unknown): Static<T> {
  if (Value.Check(schema, raw)) return raw;
  const first = Value.Errors(schema, raw).First();
  const where = first?.path.replace(/^\//, '') ?? '';
  throw new CliError(
    `invalid ${where === '' ? 'options' : where}: ${first?.message ?? 'unexpected value'}`,
    ExitCode.Usage,
  );
}

/**
 * A commander action that gathers the positional arguments (named `args`, in order) and the
 * flags into one object, checks it against `schema`, and hands it to `run`.
 */
export function action<T extends TObject>(
  schema: T,
  args: readonly string[],
  run: (options: Static<T>) => Promise<void> | void,
): (this: Command) => Promise<void> {
  return async function (this: Command) {
    const raw: Record<string, unknown> = { ...this.opts() };
    args.forEach((name, i) => {
      const value: unknown = this.processedArgs[i];
      if (value !== undefined) raw[name] = value;
    });
    await run(parseOptions(schema, raw));
  };
}

export function format(flags: { output?: string }): OutputFormat {
  return outputFormat(flags.output);
}

/** Asks on a terminal; elsewhere (scripts) the answer is `otherwise`. */
export async function confirm(io: IOStreams, question: string, otherwise: boolean): Promise<boolean> {
  if (io.stdin.isTTY !== true || io.stderr.isTTY !== true) return otherwise;
  const answer = await io.prompt(`${question} [y/N] `);
  return /^y(es)?$/i.test(answer.trim());
}

export function notFound(name: string, known: string[]): CliError {
  return new CliError(
    known.length === 0
      ? `no API named ${name}: nothing is deployed`
      : `no API named ${name}; deployed: ${known.join(', ')}`,
    ExitCode.NotFound,
  );
}

/** The factory a command runs with, and its run function (the real one, or a test's). */
export type RunF<O, F = Factory> = (options: O, f: F) => Promise<void> | void;
