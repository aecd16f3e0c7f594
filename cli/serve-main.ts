// `cortex serve`, what every replica runs, without the rest of the CLI. A replica's start is on
// the path of every wake from zero, and loading every command (the Kubernetes client, the local
// environment, the builders) cost ~0.5 s of it (docs/cold-start.md); serving needs none of them.
// cli/bin/cortex.ts comes here when the first argument is `serve` or `proxy` (a pod API's front).
import { Command } from 'commander';
import { startReplica } from '../runtime/replica.ts';
import { proxyCommand } from './commands/proxy.ts';
import { serveCommand, type ServeFactory } from './commands/serve.ts';
import { systemIO, type IOStreams } from './io.ts';
import { routeOutput, runMain } from './run.ts';

/** The process's side of serving: the real replica, signals, exit. systemFactory() has the same. */
export function serveFactory(io: IOStreams = systemIO()): ServeFactory & { exitCode?: number } {
  return {
    io,
    startReplica: (options) => startReplica(options),
    onTerminate(handler) {
      process.once('SIGTERM', handler);
      process.once('SIGINT', handler);
    },
    exit: (code) => process.exit(code),
  };
}

export function buildServeProgram(f: ServeFactory & { exitCode?: number }): Command {
  return routeOutput(new Command().name('cortex').addCommand(serveCommand(f)).addCommand(proxyCommand(f)), f);
}

export async function main(argv: string[]): Promise<void> {
  const f = serveFactory();
  await runMain(buildServeProgram(f), argv, f);
}
