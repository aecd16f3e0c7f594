// `cortex deploy [CONFIG|DIR]`: creates the APIs of a cortex.yaml, or updates the changed ones
// (a rolling update), and prints where to call them. Local here; clusters in deploy-cluster.ts.
import { Type, type Static } from '@sinclair/typebox';
import { Command } from 'commander';
import { CliError, ExitCode } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { colorsOf, printErr, printOut, type IOStreams } from '../io.ts';
import type { DeployResult } from '../local/deploy.ts';
import { curlExample } from '../local/examples.ts';
import { humanLines } from '../local/log-format.ts';
import { Progress } from '../progress.ts';
import { action, confirm, envOption, format, outputOption, type RunF } from './common.ts';
import { deployToClusterCommand } from './deploy-cluster.ts';

export const DeployOptions = Type.Object({
  config: Type.String(),
  env: Type.Optional(Type.String()),
  yes: Type.Optional(Type.Boolean()),
  output: Type.String(),
  /** Cluster: follow the rollout (undefined: only on a terminal). */
  wait: Type.Optional(Type.Boolean()),
  timeout: Type.String(),
  /** Cluster: false with --no-bundle. */
  bundle: Type.Boolean(),
});
export type DeployOptions = Static<typeof DeployOptions>;

export async function runDeploy(options: DeployOptions, f: Factory): Promise<void> {
  const fmt = format(options);
  const env = f.environment(options.env);
  if (env.provider === 'kubernetes') return deployToClusterCommand(options, env, f, fmt);
  const local = f.local(env);
  const io = f.io;
  const progress = new Progress(io);
  const c = colorsOf(io, 'stdout');
  const results = await local
    .deploy(
      { config: options.config, yes: options.yes === true },
      {
        step: (label) => progress.step(label),
        warning: (message) => progress.note(`${colorsOf(io, 'stderr').yellow('warning:')} ${message}`),
        plan: (api, plan) => {
          progress.stop();
          if (fmt === 'pretty') printOut(io, plan === 'up to date' ? `${api} is up to date` : `${plan} ${c.bold(api)}`);
        },
        confirm: (question) => {
          progress.pause();
          return confirm(io, question, false);
        },
      },
    )
    .finally(() => progress.stop());
  const base = local.target.baseUrl;
  if (fmt === 'json') {
    printOut(
      io,
      JSON.stringify(
        results.map((r) => ({
          api: r.api,
          action: r.action,
          endpoint: r.endpoint,
          url: base + r.endpoint,
          ...(r.reason !== undefined ? { reason: r.reason } : {}),
          ...(r.logTail !== undefined ? { logTail: r.logTail } : {}),
        })),
        null,
        2,
      ),
    );
  } else {
    printResults(io, results, base);
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
}

export function deployCommand(f: Factory, runF: RunF<DeployOptions> = runDeploy): Command {
  return new Command('deploy')
    .description(
      'create or update the APIs of a cortex.yaml ' +
        '(a rolling update: the running version serves until the new one is ready)',
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
    .action(action(DeployOptions, ['config'], (options) => runF(options, f)));
}

function printResults(io: IOStreams, results: DeployResult[], base: string): void {
  const c = colorsOf(io, 'stdout');
  const e = colorsOf(io, 'stderr');
  for (const r of results) {
    const url = base + r.endpoint;
    if (r.action === 'failed') {
      if (r.logTail && r.logTail.length > 0) {
        printErr(io, e.dim(`last lines logged by ${r.replica ?? r.api}:`));
        for (const line of humanLines(r.logTail)) printErr(io, e.dim(`  ${line}`));
      }
      continue;
    }
    if (r.action === 'superseded') continue;
    if (r.kind !== undefined) {
      printOut(io, `${r.api} (${r.kind}) is deployed; submit a job with: cortex submit ${r.api} job.json`);
      continue;
    }
    const verb = r.action === 'created' ? 'is live at' : r.action === 'up-to-date' ? 'serves at' : 'now serves at';
    printOut(io, `${r.api} ${verb} ${c.cyan(url)}`);
    printOut(io, curlExample(url, r.projectDir));
  }
  const ok = results.filter((r) => r.action !== 'failed' && r.action !== 'superseded');
  if (ok.length > 0) {
    const name = ok.length === 1 ? ok[0].api : 'API';
    printErr(io, e.dim(`status: cortex get ${ok.length === 1 ? name : ''}`.trimEnd() + `   logs: cortex logs ${name}`));
  }
}
