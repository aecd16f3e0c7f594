// Wires the commands; each lives in cli/commands/<name>.ts.
import { Command } from 'commander';
import { serveCommand } from './commands/serve.ts';
import { versionCommand } from './commands/version.ts';
import { CliError } from './errors.ts';

export async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('cortex')
    .description('Deploy predictors as production prediction APIs, locally or on Kubernetes.')
    .showSuggestionAfterError()
    .addCommand(serveCommand())
    .addCommand(versionCommand());
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
