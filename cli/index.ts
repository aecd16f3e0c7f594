// Wires the commands; each lives in cli/commands/<name>.ts as a commander command built from a
// factory (IO streams, environment resolver) and a run function that takes a typed options object.
import { Command } from 'commander';
import { apiKeyCommand } from './commands/api-key.ts';
import { buildCommand } from './commands/build.ts';
import { completeApisCommand, completionCommand } from './commands/completion.ts';
import { deleteCommand } from './commands/delete.ts';
import { deployCommand } from './commands/deploy.ts';
import { envCommand } from './commands/env.ts';
import { getCommand } from './commands/get.ts';
import { installDepsCommand } from './commands/install-deps.ts';
import { logsCommand } from './commands/logs.ts';
import { batchWorkerCommand, submitCommand, taskRunnerCommand } from './commands/jobs.ts';
import { predictCommand } from './commands/predict.ts';
import { refreshCommand } from './commands/refresh.ts';
import { renderCommand } from './commands/render.ts';
import { serveCommand } from './commands/serve.ts';
import { supervisorCommand } from './commands/supervisor.ts';
import { versionCommand } from './commands/version.ts';
import { systemFactory, type Factory } from './factory.ts';
import { executeProgram, routeOutput, runMain } from './run.ts';

export function buildProgram(f: Factory = systemFactory()): Command {
  const program: Command = new Command()
    .name('cortex')
    .description('Deploy predictors as production prediction APIs, locally or on Kubernetes.')
    .showSuggestionAfterError()
    .addCommand(deployCommand(f))
    .addCommand(getCommand(f))
    .addCommand(logsCommand(f))
    .addCommand(predictCommand(f))
    .addCommand(submitCommand(f))
    .addCommand(refreshCommand(f))
    .addCommand(deleteCommand(f))
    .addCommand(apiKeyCommand(f))
    .addCommand(renderCommand(f))
    .addCommand(buildCommand(f))
    .addCommand(envCommand(f))
    .addCommand(serveCommand(f))
    .addCommand(versionCommand(f))
    .addCommand(completionCommand(f, () => program))
    .addCommand(supervisorCommand(f), { hidden: true })
    .addCommand(installDepsCommand(f), { hidden: true })
    .addCommand(completeApisCommand(f), { hidden: true })
    .addCommand(batchWorkerCommand(), { hidden: true })
    .addCommand(taskRunnerCommand(), { hidden: true });
  return routeOutput(program, f);
}

/**
 * Runs the CLI with `args` (what follows `cortex`) against a factory and returns the exit code:
 * 0; a CliError's code, its message printed on stderr; 2 for commander's usage errors.
 */
export function execute(args: string[], f: Factory): Promise<number> {
  return executeProgram(buildProgram(f), args, f);
}

export async function main(argv: string[]): Promise<void> {
  const f = systemFactory();
  await runMain(buildProgram(f), argv, f);
}
