// `cortex refresh API`: a rolling restart (new replicas of the same version take over, the old
// ones drain).
import { Command } from 'commander';
import { CliError, ExitCode } from '../errors.ts';
import { findSupervisor, hasRunnableApis, ensureSupervisor } from '../local/client.ts';
import { out, plural } from '../output.ts';
import { Progress } from '../progress.ts';
import type { Step } from '../progress.ts';
import { connect } from '../cluster/connect.ts';
import { restartApi } from '../cluster/operations.ts';
import { environment, envOption, format, localTarget, notFound, outputOption } from './common.ts';

export function refreshCommand(): Command {
  return new Command('refresh')
    .description('restart an API (rolling: the new replicas take over once ready, the old ones drain)')
    .argument('<api>', 'name of the API')
    .addOption(envOption())
    .addOption(outputOption())
    .action(async (name: string, flags: { env?: string; output: string }) => {
      const fmt = format(flags);
      const env = environment(flags.env);
      if (env.provider === 'kubernetes') {
        const conn = connect(env);
        const generation = await restartApi(conn, name);
        if (fmt === 'json')
          out(
            JSON.stringify({
              api: name,
              action: 'restarting',
              environment: env.name,
              namespace: conn.namespace,
              deploymentGeneration: generation,
            }),
          );
        else
          out(
            `restarting ${name} in ${env.name}: new replicas replace the old ones as they become ready (follow with cortex get ${name} -e ${env.name} -w)`,
          );
        return;
      }
      const t = localTarget(env);
      const client =
        (await findSupervisor(t.layout)) ?? (hasRunnableApis(t.layout) ? await ensureSupervisor(t.layout) : undefined);
      const apis = client ? (await client.status()).apis : [];
      const api = apis.find((a) => a.name === name);
      if (client === undefined || api === undefined)
        throw notFound(
          name,
          apis.map((a) => a.name),
        );
      if (api.version === undefined)
        throw new CliError(`${name} has no running version to restart; deploy it`, ExitCode.Failed);
      const progress = new Progress(process.stderr);
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
        .finally(() => progress.stop());
      const ok = last?.type === 'result' && last.action === 'refreshed';
      if (!ok) waiting?.fail();
      if (fmt === 'json')
        out(
          JSON.stringify({
            api: name,
            action: last?.type === 'result' ? last.action : 'failed',
            ...(last?.type === 'result' && last.reason ? { reason: last.reason } : {}),
          }),
        );
      else if (ok) out(`refreshed ${name}`);
      if (!ok)
        throw new CliError(
          `${name} was not restarted: ${last?.type === 'result' ? (last.reason ?? last.action) : 'no answer'}; the running replicas keep serving`,
          ExitCode.Failed,
        );
    });
}
