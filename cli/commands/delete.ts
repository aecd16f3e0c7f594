// `cortex delete API`: stops its replicas and removes its files; the port is freed when no
// API is left (and the supervisor exits).
import { Command } from 'commander';
import { CliError, ExitCode } from '../errors.ts';
import { ensureSupervisor, findSupervisor } from '../local/client.ts';
import { readState } from '../local/state.ts';
import { out } from '../output.ts';
import { connect } from '../cluster/connect.ts';
import { deleteApi } from '../cluster/operations.ts';
import { confirm, environment, envOption, format, localTarget, notFound, outputOption } from './common.ts';

export function deleteCommand(): Command {
  return new Command('delete')
    .description(
      'delete an API: stop its replicas and remove its files (in a cluster: the RealtimeAPI and everything it owns)',
    )
    .argument('<api>', 'name of the API')
    .addOption(envOption())
    .option('-y, --yes', 'do not ask for confirmation')
    .addOption(outputOption())
    .action(async (name: string, flags: { env?: string; yes?: boolean; output: string }) => {
      const fmt = format(flags);
      const env = environment(flags.env);
      if (env.provider === 'kubernetes') {
        const conn = connect(env);
        if (
          !flags.yes &&
          !(await confirm(`delete ${name} from ${env.name} (namespace ${conn.namespace})? its replicas stop`, true))
        )
          throw new CliError('not deleted', ExitCode.Failed);
        await deleteApi(conn, name);
        if (fmt === 'json') out(JSON.stringify({ deleted: name, environment: env.name, namespace: conn.namespace }));
        else out(`deleted ${name} from ${env.name}; the cluster removes its replicas, Service, autoscaler and bundle`);
        return;
      }
      const t = localTarget(env);
      const running = await findSupervisor(t.layout);
      const known = running ? (await running.status()).apis.map((a) => a.name) : Object.keys(readState(t.layout).apis);
      if (!known.includes(name)) throw notFound(name, known);
      if (!flags.yes && !(await confirm(`delete ${name}? its replicas stop and its files are removed`, true))) {
        throw new CliError('not deleted', ExitCode.Failed);
      }
      const client = running ?? (await ensureSupervisor(t.layout));
      const answer = await client.request<{ deleted?: string; portFreed?: boolean; error?: string }>(
        'POST',
        '/delete',
        { name },
      );
      if (answer.status === 404) throw notFound(name, []);
      if (answer.status !== 200) throw new CliError(answer.body.error ?? `delete failed (${answer.status})`);
      if (fmt === 'json') out(JSON.stringify({ deleted: name, portFreed: answer.body.portFreed === true }));
      else out(`deleted ${name}`);
    });
}
