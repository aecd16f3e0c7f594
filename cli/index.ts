// Wires the commands; each lives in cli/commands/<name>.ts.
import { Command } from 'commander';
import { completeApisCommand, completionCommand } from './commands/completion.ts';
import { deleteCommand } from './commands/delete.ts';
import { deployCommand } from './commands/deploy.ts';
import { envCommand } from './commands/env.ts';
import { getCommand } from './commands/get.ts';
import { logsCommand } from './commands/logs.ts';
import { predictCommand } from './commands/predict.ts';
import { refreshCommand } from './commands/refresh.ts';
import { renderCommand } from './commands/render.ts';
import { serveCommand } from './commands/serve.ts';
import { supervisorCommand } from './commands/supervisor.ts';
import { versionCommand } from './commands/version.ts';
import { CliError, ExitCode } from './errors.ts';

export function buildProgram(): Command {
  const program: Command = new Command()
    .name('cortex')
    .description('Deploy predictors as production prediction APIs, locally or on Kubernetes.')
    .showSuggestionAfterError()
    .addCommand(deployCommand())
    .addCommand(getCommand())
    .addCommand(logsCommand())
    .addCommand(predictCommand())
    .addCommand(refreshCommand())
    .addCommand(deleteCommand())
    .addCommand(renderCommand())
    .addCommand(envCommand())
    .addCommand(serveCommand())
    .addCommand(versionCommand())
    .addCommand(completionCommand(() => program))
    .addCommand(supervisorCommand(), { hidden: true })
    .addCommand(completeApisCommand(), { hidden: true });
  // commander's own usage errors (unknown option, missing argument) exit 2, in every command.
  const exitCodes = (cmd: Command) => {
    cmd.exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : ExitCode.Usage));
    cmd.commands.forEach(exitCodes);
  };
  exitCodes(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`error: ${error.message}\n`);
      process.exit(error.exitCode);
    }
    throw error;
  }
}
