// `cortex __supervisor` (hidden): the local environment's background process. The CLI starts
// it detached when it needs it; see cli/local/supervisor.ts.
import { Command } from 'commander';
import { runSupervisor } from '../local/supervisor.ts';

export function supervisorCommand(): Command {
  return new Command('__supervisor')
    .description("run the local environment's supervisor in the foreground (started by the CLI)")
    .action(async () => {
      await runSupervisor();
    });
}
