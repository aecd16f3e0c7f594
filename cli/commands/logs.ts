// `cortex logs API [-f]`: what the API's replicas logged (JSON lines from the runtime), each
// line prefixed with its replica when there are several.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { Command } from 'commander';
import { CliError, ExitCode } from '../errors.ts';
import { supervisorStatus } from '../local/status.ts';
import type { ReplicaStatus } from '../local/protocol.ts';
import { readState } from '../local/state.ts';
import { colors, err } from '../output.ts';
import { connect } from '../cluster/connect.ts';
import { streamLogs } from '../cluster/logs.ts';
import { environment, envOption, localTarget, notFound } from './common.ts';

interface LogsFlags {
  env?: string;
  follow?: boolean;
  tail?: string;
  pod?: string;
}

class Tail {
  readonly replica: string;
  readonly file: string;
  offset = 0;
  private partial = '';
  constructor(replica: string, file: string) {
    this.replica = replica;
    this.file = file;
  }

  /** Complete lines written since the last call. */
  read(): string[] {
    let size: number;
    try {
      size = statSync(this.file).size;
    } catch {
      return [];
    }
    if (size < this.offset) this.offset = 0;
    if (size === this.offset) return [];
    const fd = openSync(this.file, 'r');
    try {
      const buffer = Buffer.alloc(size - this.offset);
      const n = readSync(fd, buffer, 0, buffer.length, this.offset);
      this.offset += n;
      const text = this.partial + buffer.subarray(0, n).toString('utf8');
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      return lines;
    } finally {
      closeSync(fd);
    }
  }
}

export function logsCommand(): Command {
  return new Command('logs')
    .description("print an API's logs (every replica's; prefixed with the replica when there are several)")
    .argument('<api>', 'name of the API')
    .addOption(envOption())
    .option('-f, --follow', 'keep printing new lines (and those of replicas that start later), until interrupted')
    .option('--tail <lines>', 'begin with at most this many lines of each replica')
    .option('--pod <name>', 'cluster: only this pod')
    .action(async (name: string, flags: LogsFlags) => {
      const env = environment(flags.env);
      const tailLines = flags.tail === undefined ? undefined : Number(flags.tail);
      if (tailLines !== undefined && (!Number.isInteger(tailLines) || tailLines < 0))
        throw new CliError(`--tail must be a whole number, got "${flags.tail}"`, ExitCode.Usage);
      if (env.provider === 'kubernetes') return clusterLogs(name, flags, tailLines, connect(env));
      if (flags.pod !== undefined)
        throw new CliError(
          "--pod is for cluster environments; locally every replica's log is shown with its name",
          ExitCode.Usage,
        );
      const t = localTarget(env);
      const replicasOf = async (): Promise<ReplicaStatus[] | undefined> => {
        const status = await supervisorStatus(t.layout);
        return status?.apis.find((a) => a.name === name)?.replicas;
      };
      let replicas = await replicasOf();
      if (replicas === undefined) {
        const record = readState(t.layout).apis[name];
        if (record === undefined) throw notFound(name, Object.keys(readState(t.layout).apis));
        throw new CliError(
          `${name} has no replicas running${record.failure ? `; its deploy failed: ${record.failure.reason}` : ''}`,
          ExitCode.Failed,
        );
      }
      if (replicas.length === 0 && !flags.follow) {
        err(`${name} has no replicas running`);
        return;
      }
      const tails = new Map<string, Tail>();
      const palette = [
        colors(process.stdout).cyan,
        colors(process.stdout).magenta,
        colors(process.stdout).yellow,
        colors(process.stdout).blue,
        colors(process.stdout).green,
      ];
      const prefixOf = (id: string) => palette[[...tails.keys()].indexOf(id) % palette.length](`[${id}]`);
      const print = (tail: Tail, lines: string[]) => {
        if (lines.length === 0) return;
        const several = tails.size > 1;
        process.stdout.write(lines.map((l) => (several ? `${prefixOf(tail.replica)} ${l}` : l)).join('\n') + '\n');
      };
      const track = (list: ReplicaStatus[], first: boolean) => {
        for (const r of list) {
          if (tails.has(r.id)) continue;
          const tail = new Tail(r.id, r.logFile);
          tails.set(r.id, tail);
          if (!first) continue;
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
            err(`${name} was deleted`);
            return;
          }
          track(replicas, false);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    });
}

async function clusterLogs(
  name: string,
  flags: LogsFlags,
  tailLines: number | undefined,
  conn: ReturnType<typeof connect>,
): Promise<void> {
  const c = colors(process.stdout);
  const palette = [c.cyan, c.magenta, c.yellow, c.blue, c.green];
  const pods: string[] = [];
  const prefixed = flags.pod === undefined;
  const stop = new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await streamLogs(conn, {
    name,
    follow: flags.follow === true,
    ...(tailLines !== undefined ? { tailLines } : {}),
    ...(flags.pod !== undefined ? { pod: flags.pod } : {}),
    stop,
    print: ({ pod, text }) => {
      if (!pods.includes(pod)) pods.push(pod);
      process.stdout.write(
        prefixed ? `${palette[pods.indexOf(pod) % palette.length](`[${pod}]`)} ${text}\n` : `${text}\n`,
      );
    },
    note: (message) => err(colors(process.stderr).dim(message)),
  });
  if (flags.follow) process.exit(0); // Ctrl-C: the open log streams end with the process
}
