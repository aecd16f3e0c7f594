// Wires the commands; each lives in cli/commands/<name>.ts as a commander command built from a
// factory (IO streams, environment resolver) and a run function that takes a typed options object.
import { Command, CommanderError } from 'commander';
import { buildCommand } from './commands/build.ts';
import { completeApisCommand, completionCommand } from './commands/completion.ts';
import { deleteCommand } from './commands/delete.ts';
import { deployCommand } from './commands/deploy.ts';
import { envCommand } from './commands/env.ts';
import { getCommand } from './commands/get.ts';
import { installDepsCommand } from './commands/install-deps.ts';
import { logsCommand } from './commands/logs.ts';
import { predictCommand } from './commands/predict.ts';
import { refreshCommand } from './commands/refresh.ts';
import { renderCommand } from './commands/render.ts';
import { serveCommand } from './commands/serve.ts';
import { supervisorCommand } from './commands/supervisor.ts';
import { versionCommand } from './commands/version.ts';
import { CliError, ExitCode } from './errors.ts';
import { systemFactory, type Factory } from './factory.ts';

export function buildProgram(f: Factory = systemFactory()): Command {
  const program: Command = new Command()
    .name('cortex')
    .description('Deploy predictors as production prediction APIs, locally or on Kubernetes.')
    .showSuggestionAfterError()
    .addCommand(deployCommand(f))
    .addCommand(getCommand(f))
    .addCommand(logsCommand(f))
    .addCommand(predictCommand(f))
    .addCommand(refreshCommand(f))
    .addCommand(deleteCommand(f))
    .addCommand(renderCommand(f))
    .addCommand(buildCommand(f))
    .addCommand(envCommand(f))
    .addCommand(serveCommand(f))
    .addCommand(versionCommand(f))
    .addCommand(completionCommand(f, () => program))
    .addCommand(supervisorCommand(f), { hidden: true })
    .addCommand(installDepsCommand(f), { hidden: true })
    .addCommand(completeApisCommand(f), { hidden: true });
  // In every command: commander's own messages (help, usage errors) go to the factory's streams,
  // and instead of exiting it throws a CommanderError that execute() turns into an exit code.
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
 * Runs the CLI with `args` (what follows `cortex`) against a factory and returns the exit code:
 * 0; a CliError's code, its message printed on stderr; 2 for commander's usage errors.
 */
export async function execute(args: string[], f: Factory): Promise<number> {
  try {
    await buildProgram(f).parseAsync(args, { from: 'user' });
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

export async function main(argv: string[]): Promise<void> {
  const f = systemFactory();
  const code = await execute(argv.slice(2), f);
  // A command that succeeded may leave work running (serve's server, the supervisor, get -w):
  // the process ends when that does. A failure ends it now.
  if (code !== ExitCode.Ok && f.exitCode === undefined) process.exit(code);
  if (code !== ExitCode.Ok) process.exitCode = code;
}
