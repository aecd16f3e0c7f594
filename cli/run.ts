// Running a commander program as the `cortex` executable: commander's output on the factory's
// streams, errors turned into exit codes. Shared by the whole CLI (index.ts) and by the
// serve-only entry (serve-main.ts), so it imports nothing heavy.
import { Command, CommanderError } from 'commander';
import { CliError, ExitCode } from './errors.ts';
import type { Factory } from './factory.ts';

type Runnable = Pick<Factory, 'io' | 'exitCode'>;

/**
 * In every command: commander's own messages (help, usage errors) go to the factory's streams,
 * and instead of exiting it throws a CommanderError that execute() turns into an exit code.
 */
export function routeOutput(program: Command, f: Runnable): Command {
  const configure = (cmd: Command) => {
    cmd.exitOverride().configureOutput({
      writeOut: (text) => void f.io.stdout.write(text),
      writeErr: (text) => void f.io.stderr.write(text),
    });
    cmd.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/**
 * Runs `program` with `args` (what follows `cortex`) and returns the exit code: 0; a
 * CliError's code, its message printed on stderr; 2 for commander's usage errors.
 */
export async function executeProgram(program: Command, args: string[], f: Runnable): Promise<number> {
  try {
    await program.parseAsync(args, { from: 'user' });
    return f.exitCode ?? ExitCode.Ok;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    if (error instanceof CliError) {
      f.io.stderr.write(`error: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}

/** The process side: exit codes of failures end the process now. */
export async function runMain(program: Command, argv: string[], f: Runnable): Promise<void> {
  const code = await executeProgram(program, argv.slice(2), f);
  // A command that succeeded may leave work running (serve's server, the supervisor, get -w):
  // the process ends when that does. A failure ends it now.
  if (code !== ExitCode.Ok && f.exitCode === undefined) process.exit(code);
  if (code !== ExitCode.Ok) process.exitCode = code;
}
