// `cortex deploy [CONFIG|DIR]`: creates the APIs of a cortex.yaml, or updates the changed ones
// (a rolling update), and prints where to call them. Local here; clusters in deploy-cluster.ts.
import { Command } from 'commander';
import { CliError, ExitCode } from '../errors.ts';
import { deployProject, type DeployResult } from '../local/deploy.ts';
import { curlExample } from '../local/examples.ts';
import { humanLines } from '../local/log-format.ts';
import { colors, err, out } from '../output.ts';
import { Progress } from '../progress.ts';
import { confirm, environment, envOption, format, localTarget, outputOption } from './common.ts';
import { deployToClusterCommand, type ClusterDeployFlags } from './deploy-cluster.ts';

interface DeployFlags extends ClusterDeployFlags {
  env?: string;
  yes?: boolean;
  output: string;
}

export function deployCommand(): Command {
  return new Command('deploy')
    .description(
      'create or update the APIs of a cortex.yaml (a rolling update: the running version serves until the new one is ready)',
    )
    .argument('[config]', 'cortex.yaml, or the folder that holds it', '.')
    .addOption(envOption())
    .option('-y, --yes', 'do not ask (deploy a large project folder without asking)')
    .addOption(outputOption())
    .option('--wait', 'cluster: follow the rollout until every API is live (the default on a terminal)')
    .option('--no-wait', 'cluster: return once the APIs are applied')
    .option('--timeout <duration>', 'cluster: how long --wait waits, e.g. 10m', '15m')
    .option(
      '--no-bundle',
      "cluster: do not upload the project folder; every API's predictor.image already holds it in /mnt/project",
    )
    .action(async (config: string, flags: DeployFlags) => {
      const fmt = format(flags);
      const env = environment(flags.env);
      if (env.provider === 'kubernetes') return deployToClusterCommand(config, env, flags, fmt);
      const t = localTarget(env);
      const progress = new Progress(process.stderr);
      const c = colors(process.stdout);
      const results = await deployProject(
        { config, yes: flags.yes === true, layout: t.layout },
        {
          step: (label) => progress.step(label),
          warning: (message) => progress.note(`${colors(process.stderr).yellow('warning:')} ${message}`),
          plan: (api, plan) => {
            progress.stop();
            if (fmt === 'pretty') out(plan === 'up to date' ? `${api} is up to date` : `${plan} ${c.bold(api)}`);
          },
          confirm: (question) => {
            progress.pause();
            return confirm(question, false);
          },
        },
      ).finally(() => progress.stop());
      if (fmt === 'json') {
        out(
          JSON.stringify(
            results.map((r) => ({
              api: r.api,
              action: r.action,
              endpoint: r.endpoint,
              url: t.baseUrl + r.endpoint,
              ...(r.reason !== undefined ? { reason: r.reason } : {}),
              ...(r.logTail !== undefined ? { logTail: r.logTail } : {}),
            })),
            null,
            2,
          ),
        );
      } else {
        printResults(results, t.baseUrl);
      }
      const failed = results.filter((r) => r.action === 'failed' || r.action === 'superseded');
      if (failed.length > 0) {
        throw new CliError(
          failed
            .map(
              (r) =>
                `${r.api} was not deployed: ${r.reason ?? r.action}` +
                (r.plan === 'updating' ? `\nthe running version of ${r.api} keeps serving` : ''),
            )
            .join('\n'),
          ExitCode.Failed,
        );
      }
    });
}

function printResults(results: DeployResult[], base: string): void {
  const c = colors(process.stdout);
  const e = colors(process.stderr);
  for (const r of results) {
    const url = base + r.endpoint;
    if (r.action === 'failed') {
      if (r.logTail && r.logTail.length > 0) {
        err(e.dim(`last lines logged by ${r.replica ?? r.api}:`));
        for (const line of humanLines(r.logTail)) err(e.dim(`  ${line}`));
      }
      continue;
    }
    if (r.action === 'superseded') continue;
    const verb = r.action === 'created' ? 'is live at' : r.action === 'up-to-date' ? 'serves at' : 'now serves at';
    out(`${r.api} ${verb} ${c.cyan(url)}`);
    out(curlExample(url, r.projectDir));
  }
  const ok = results.filter((r) => r.action !== 'failed' && r.action !== 'superseded');
  if (ok.length > 0) {
    const name = ok.length === 1 ? ok[0].api : 'API';
    err(e.dim(`status: cortex get ${ok.length === 1 ? name : ''}`.trimEnd() + `   logs: cortex logs ${name}`));
  }
}
