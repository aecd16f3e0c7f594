// `cortex __supervisor` (hidden): the local environment's background process. The CLI starts
// it detached when it needs it; see cli/local/supervisor.ts.
import { Type, type Static } from '@sinclair/typebox';
import { Command } from 'commander';
import type { Factory } from '../factory.ts';
import { action, type RunF } from './common.ts';

export const SupervisorOptions = Type.Object({ home: Type.Optional(Type.String()) });
export type SupervisorOptions = Static<typeof SupervisorOptions>;

export async function runSupervisorCommand(options: SupervisorOptions, f: Factory): Promise<void> {
  if (options.home !== undefined) process.env.CORTEX_HOME = options.home;
  await f.runSupervisor();
}

export function supervisorCommand(f: Factory, runF: RunF<SupervisorOptions> = runSupervisorCommand): Command {
  return new Command('__supervisor')
    .description("run the local environment's supervisor in the foreground (started by the CLI)")
    .option('--home <dir>', '$CORTEX_HOME (default: the environment variable, or ~/.cortex)')
    .action(action(SupervisorOptions, [], (options) => runF(options, f)));
}
