// `cortex refresh API`: a rolling restart (new replicas of the same version take over, the old
// ones drain).
import { Type, type Static } from '@sinclair/typebox';
import { Command } from 'commander';
import { CliError, ExitCode } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { printOut } from '../io.ts';
import { plural } from '../output.ts';
import { Progress } from '../progress.ts';
import type { Step } from '../progress.ts';
import { action, envOption, format, notFound, outputOption, type RunF } from './common.ts';

export const RefreshOptions = Type.Object({
  api: Type.String(),
  env: Type.Optional(Type.String()),
  output: Type.String(),
});
export type RefreshOptions = Static<typeof RefreshOptions>;

export function refreshCommand(f: Factory, runF: RunF<RefreshOptions> = runRefresh): Command {
  return new Command('refresh')
    .description('restart an API (rolling: the new replicas take over once ready, the old ones drain)')
    .argument('<api>', 'name of the API')
    .addOption(envOption())
    .addOption(outputOption())
    .action(action(RefreshOptions, ['api'], (options) => runF(options, f)));
}

export async function runRefresh(flags: RefreshOptions, f: Factory): Promise<void> {
  const name = flags.api;
  const io = f.io;
  const fmt = format(flags);
  const env = f.environment(flags.env);
  if (env.provider === 'kubernetes') {
    const conn = f.cluster(env);
    const generation = await conn.restart(name);
    if (fmt === 'json')
      printOut(
        io,
        JSON.stringify({
          api: name,
          action: 'restarting',
          environment: env.name,
          namespace: conn.namespace,
          deploymentGeneration: generation,
        }),
      );
    else
      printOut(
        io,
        `restarting ${name} in ${env.name}: new replicas replace the old ones as they become ready ` +
          `(follow with cortex get ${name} -e ${env.name} -w)`,
      );
    return;
  }
  const local = f.local(env);
  const client =
    (await local.findSupervisor()) ?? (local.hasRunnableApis() ? await local.ensureSupervisor() : undefined);
  const apis = client ? (await client.status()).apis : [];
  const api = apis.find((a) => a.name === name);
  if (client === undefined || api === undefined)
    throw notFound(
      name,
      apis.map((a) => a.name),
    );
  if (api.version === undefined)
    throw new CliError(`${name} has no running version to restart; deploy it`, ExitCode.Failed);
  const progress = new Progress(io);
  let waiting: Step | undefined;
  const last = await client
    .stream('/refresh', { name }, (event) => {
      if (event.type === 'starting') {
        progress.step(`starting ${plural(event.replicas.length, 'replica')} of ${name}`).done();
        waiting = progress.step(`waiting for ${name} to be ready (0/${event.replicas.length})`);
      } else if (event.type === 'replica-ready') {
        waiting?.update(`waiting for ${name} to be ready (${event.ready}/${event.of})`);
      }
    })
    .catch((error: unknown) => {
      waiting?.fail();
      progress.stop();
      throw error;
    });
  const ok = last?.type === 'result' && last.action === 'refreshed';
  // Failed before stopped: stop() would mark the step still running as done.
  if (!ok) waiting?.fail();
  progress.stop();
  if (fmt === 'json')
    printOut(
      io,
      JSON.stringify({
        api: name,
        action: last?.type === 'result' ? last.action : 'failed',
        ...(last?.type === 'result' && last.reason ? { reason: last.reason } : {}),
      }),
    );
  else if (ok) printOut(io, `refreshed ${name}`);
  if (!ok)
    throw new CliError(
      `${name} was not restarted: ${last?.type === 'result' ? (last.reason ?? last.action) : 'no answer'}; ` +
        'the running replicas keep serving',
      ExitCode.Failed,
    );
}
