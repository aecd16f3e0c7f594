// `cortex delete API`: stops its replicas and removes its files; the port is freed when no
// API is left (and the supervisor exits).
import { Type, type Static } from '@sinclair/typebox';
import { Command } from 'commander';
import { CliError, ExitCode } from '../errors.ts';
import { BATCH_KIND, TASK_KIND } from '../../operator/api/v1alpha1/index.ts';
import type { Factory } from '../factory.ts';
import { printOut } from '../io.ts';
import { clusterJobDelete, jobDelete } from './jobs.ts';
import { connect } from '../cluster/connect.ts';
import { action, confirm, envOption, format, notFound, outputOption, type RunF } from './common.ts';

export const DeleteOptions = Type.Object({
  api: Type.String(),
  /** A job of a BatchAPI: stopped (cli/commands/jobs.ts). */
  jobId: Type.Optional(Type.String()),
  env: Type.Optional(Type.String()),
  yes: Type.Optional(Type.Boolean()),
  output: Type.String(),
});
export type DeleteOptions = Static<typeof DeleteOptions>;

export function deleteCommand(f: Factory, runF: RunF<DeleteOptions> = runDelete): Command {
  return new Command('delete')
    .description(
      'delete an API: stop its replicas and remove its files (in a cluster: the RealtimeAPI, BatchAPI or TaskAPI ' +
        'and everything it owns, its jobs included)',
    )
    .argument('<api>', 'name of the API')
    .argument('[job_id]', 'a job of a BatchAPI: stop it')
    .addOption(envOption())
    .option('-y, --yes', 'do not ask for confirmation')
    .addOption(outputOption())
    .action(action(DeleteOptions, ['api', 'jobId'], (options) => runF(options, f)));
}

export async function runDelete(flags: DeleteOptions, f: Factory): Promise<void> {
  const name = flags.api;
  const io = f.io;
  const fmt = format(flags);
  const env = f.environment(flags.env);
  if (env.provider === 'kubernetes' && flags.jobId !== undefined) {
    if (await clusterJobDelete(f, connect(env), name, flags.jobId)) return;
    throw new CliError(`${name} is no BatchAPI or TaskAPI in ${env.name}: it has no jobs`, ExitCode.NotFound);
  }
  if (env.provider === 'kubernetes') {
    const conn = f.cluster(env);
    const question = `delete ${name} from ${env.name} (namespace ${conn.namespace})? its replicas stop`;
    if (!flags.yes && !(await confirm(io, question, true))) throw new CliError('not deleted', ExitCode.Failed);
    const kind = await conn.delete(name);
    const job = kind === BATCH_KIND || kind === TASK_KIND;
    if (fmt === 'json')
      printOut(
        io,
        JSON.stringify({ deleted: name, ...(job ? { kind } : {}), environment: env.name, namespace: conn.namespace }),
      );
    else if (job)
      printOut(io, `deleted ${kind} ${name} from ${env.name}; its jobs and their workers were deleted with it`);
    else
      printOut(
        io,
        `deleted ${name} from ${env.name}; the cluster removes its replicas, Service, autoscaler and bundle`,
      );
    return;
  }
  const local = f.local(env);
  if (await jobDelete(f, local.target.layout, name, flags.jobId)) return;
  const running = await local.findSupervisor();
  const status = running ? await running.status() : undefined;
  // TrafficSplitters are deleted the same way (the APIs they split to stay)
  const known = status
    ? [...status.apis.map((a) => a.name), ...(status.splitters ?? []).map((s) => s.name)]
    : Object.keys(local.records());
  if (!known.includes(name)) throw notFound(name, known);
  if (!flags.yes && !(await confirm(io, `delete ${name}? its replicas stop and its files are removed`, true))) {
    throw new CliError('not deleted', ExitCode.Failed);
  }
  const client = running ?? (await local.ensureSupervisor());
  const answer = await client.request<{ deleted?: string; portFreed?: boolean; error?: string }>('POST', '/delete', {
    name,
  });
  if (answer.status === 404) throw notFound(name, []);
  if (answer.status !== 200) throw new CliError(answer.body.error ?? `delete failed (${answer.status})`);
  if (fmt === 'json') printOut(io, JSON.stringify({ deleted: name, portFreed: answer.body.portFreed === true }));
  else printOut(io, `deleted ${name}`);
}
