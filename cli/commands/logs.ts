// `cortex logs API [-f]`: what the API's replicas logged (JSON lines from the runtime), each
// line prefixed with its replica when there are several. `cortex logs API JOB_ID`: what a job's
// workers logged (locally its job.log; in a cluster its pods', prefixed the same way); -f on a job
// ends by itself once the job has ended, with `job <id> ended: <status>` on stderr.
import { Type, type Static } from '@sinclair/typebox';
import { Command } from 'commander';
import { CliError, ExitCode } from '../errors.ts';
import type { ClusterSession, Factory } from '../factory.ts';
import { colorsOf, printErr } from '../io.ts';
import type { ReplicaStatus } from '../local/protocol.ts';
import { Tail } from '../local/log-tail.ts';
import { action, envOption, notFound, type RunF } from './common.ts';
import { jobLogs } from './jobs.ts';

export const LogsOptions = Type.Object({
  api: Type.String(),
  /** A job of a BatchAPI or TaskAPI (cli/commands/jobs.ts; in a cluster cli/cluster/logs.ts). */
  jobId: Type.Optional(Type.String()),
  env: Type.Optional(Type.String()),
  follow: Type.Optional(Type.Boolean()),
  tail: Type.Optional(Type.String()),
  pod: Type.Optional(Type.String()),
});
export type LogsOptions = Static<typeof LogsOptions>;

export async function runLogs(flags: LogsOptions, f: Factory): Promise<void> {
  const name = flags.api;
  const io = f.io;
  const env = f.environment(flags.env);
  const tailLines = flags.tail === undefined ? undefined : Number(flags.tail);
  if (tailLines !== undefined && (!Number.isInteger(tailLines) || tailLines < 0))
    throw new CliError(`--tail must be a whole number, got "${flags.tail}"`, ExitCode.Usage);
  if (env.provider === 'kubernetes') return clusterLogs(flags, tailLines, f.cluster(env), f);
  if (flags.pod !== undefined)
    throw new CliError(
      "--pod is for cluster environments; locally every replica's log is shown with its name",
      ExitCode.Usage,
    );
  if (await jobLogs(f, f.local(env).target.layout, name, flags.jobId, flags.follow === true)) return;
  const local = f.local(env);
  const replicasOf = async (): Promise<ReplicaStatus[] | undefined> => {
    const status = await local.status();
    return status?.apis.find((a) => a.name === name)?.replicas;
  };
  let replicas = await replicasOf();
  if (replicas === undefined) {
    const records = local.records();
    const record = records[name];
    if (record === undefined) throw notFound(name, Object.keys(records));
    throw new CliError(
      `${name} has no replicas running${record.failure ? `; its deploy failed: ${record.failure.reason}` : ''}`,
      ExitCode.Failed,
    );
  }
  if (replicas.length === 0 && !flags.follow) {
    printErr(io, `${name} has no replicas running`);
    return;
  }
  const tails = new Map<string, Tail>();
  const c = colorsOf(io, 'stdout');
  const palette = [c.cyan, c.magenta, c.yellow, c.blue, c.green];
  const prefixOf = (id: string) => palette[[...tails.keys()].indexOf(id) % palette.length](`[${id}]`);
  const print = (tail: Tail, lines: string[]) => {
    if (lines.length === 0) return;
    const several = tails.size > 1;
    io.stdout.write(lines.map((l) => (several ? `${prefixOf(tail.replica)} ${l}` : l)).join('\n') + '\n');
  };
  const track = (list: ReplicaStatus[], first: boolean) => {
    // Every new replica is tracked before any line is printed, so the existing lines of the
    // first one are prefixed too when there are several.
    const added = list.filter((r) => !tails.has(r.id)).map((r) => new Tail(r.id, r.logFile));
    for (const tail of added) tails.set(tail.replica, tail);
    if (!first) return;
    for (const tail of added) {
      const lines = tail.read();
      print(tail, tailLines === undefined ? lines : lines.slice(Math.max(0, lines.length - tailLines)));
    }
  };
  track(replicas, true);
  if (!flags.follow) return;
  let lastCheck = Date.now();
  for (;;) {
    for (const tail of tails.values()) print(tail, tail.read());
    if (Date.now() - lastCheck > 1000) {
      lastCheck = Date.now();
      replicas = await replicasOf();
      if (replicas === undefined) {
        printErr(io, `${name} was deleted`);
        return;
      }
      track(replicas, false);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function logsCommand(f: Factory, runF: RunF<LogsOptions> = runLogs): Command {
  return new Command('logs')
    .description("print an API's logs (every replica's; prefixed with the replica when there are several)")
    .argument('<api>', 'name of the API')
    .argument('[job_id]', 'a job of a BatchAPI or TaskAPI: what its workers logged')
    .addOption(envOption())
    .option(
      '-f, --follow',
      'keep printing new lines (and those of replicas that start later), until interrupted; ' +
        'for a job, until it has ended',
    )
    .option('--tail <lines>', 'begin with at most this many lines of each replica')
    .option('--pod <name>', 'cluster: only this pod')
    .action(action(LogsOptions, ['api', 'jobId'], (options) => runF(options, f)));
}

async function clusterLogs(
  flags: LogsOptions,
  tailLines: number | undefined,
  conn: ClusterSession,
  f: Factory,
): Promise<void> {
  const name = flags.api;
  const io = f.io;
  const c = colorsOf(io, 'stdout');
  const palette = [c.cyan, c.magenta, c.yellow, c.blue, c.green];
  const pods: string[] = [];
  const prefixed = flags.pod === undefined;
  const interrupt = f.onInterrupt();
  await conn
    .streamLogs({
      name,
      ...(flags.jobId !== undefined ? { jobId: flags.jobId } : {}),
      follow: flags.follow === true,
      ...(tailLines !== undefined ? { tailLines } : {}),
      ...(flags.pod !== undefined ? { pod: flags.pod } : {}),
      stop: interrupt.promise,
      print: ({ pod, text }) => {
        if (!pods.includes(pod)) pods.push(pod);
        io.stdout.write(
          prefixed ? `${palette[pods.indexOf(pod) % palette.length](`[${pod}]`)} ${text}\n` : `${text}\n`,
        );
      },
      note: (message) => printErr(io, colorsOf(io, 'stderr').dim(message)),
    })
    .finally(() => interrupt?.dispose());
  if (flags.follow) f.exit(0); // Ctrl-C: the open log streams end with the process
}
