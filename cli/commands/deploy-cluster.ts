// `cortex deploy` to a kubernetes environment: the printing around cluster/deploy.ts and
// cluster/wait.ts. Ctrl-C while waiting stops the waiting, not the deploy.
import { connect, type Connection } from '../cluster/connect.ts';
import { deployToCluster, type ClusterDeployResult } from '../cluster/deploy.ts';
import { waitForRollout, type WaitOutcome } from '../cluster/wait.ts';
import { parseDurationMs } from '../../operator/api/v1alpha1/index.ts';
import type { ClusterEnvironment } from '../environments.ts';
import { CliError, ExitCode } from '../errors.ts';
import { curlExample } from '../local/examples.ts';
import { colors, err, isTty, out, type OutputFormat } from '../output.ts';
import { Progress } from '../progress.ts';

export interface ClusterDeployFlags {
  wait?: boolean;
  timeout: string;
  bundle?: boolean;
}

/** `-e prod` and the namespace, as the command lines the CLI prints need them. */
export function envArgs(conn: Connection): string {
  return `-e ${conn.env.name}`;
}

function kubectlArgs(conn: Connection): string {
  return `kubectl --context ${conn.context} -n ${conn.namespace}`;
}

/** Resolves on the first Ctrl-C (the second one exits as usual). */
function onInterrupt(): { promise: Promise<void>; dispose(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  const handler = () => {
    process.removeListener('SIGINT', handler);
    resolve();
  };
  process.on('SIGINT', handler);
  return { promise, dispose: () => process.removeListener('SIGINT', handler) };
}

export async function deployToClusterCommand(
  config: string,
  env: ClusterEnvironment,
  flags: ClusterDeployFlags,
  fmt: OutputFormat,
): Promise<void> {
  let timeoutMs: number;
  try {
    timeoutMs = parseDurationMs(flags.timeout);
  } catch {
    throw new CliError(`--timeout must be a duration such as 90s, 10m or 1h, got "${flags.timeout}"`, ExitCode.Usage);
  }
  const conn = connect(env);
  const progress = new Progress(process.stderr);
  const e = colors(process.stderr);
  const { projectDir, results } = await deployToCluster(
    { config, conn, noBundle: flags.bundle === false },
    {
      step: (label) => progress.step(label),
      warning: (message) => progress.note(`${e.yellow('warning:')} ${message}`),
    },
  ).finally(() => progress.stop());

  const wait = flags.wait ?? isTty(process.stderr);
  const outcomes = new Map<string, WaitOutcome>();
  if (wait) {
    const interrupt = onInterrupt();
    try {
      for (const r of results) {
        const step = progress.step(`waiting for ${r.api}`);
        const outcome = await waitForRollout(conn, {
          name: r.api,
          generation: r.generation,
          timeoutMs,
          interrupted: interrupt.promise,
          // on a terminal the spinner's label changes; in a log each change is a line
          progress: (label) =>
            isTty(process.stderr) ? step.update(`${r.api}: ${label}`) : step.detail(`${r.api}: ${label}`),
        });
        outcomes.set(r.api, outcome);
        if (outcome.kind === 'live') step.done();
        else step.fail();
        if (outcome.kind === 'interrupted') break;
      }
    } finally {
      interrupt.dispose();
      progress.stop();
    }
  }
  if (fmt === 'json') {
    out(
      JSON.stringify(
        results.map((r) => {
          const o = outcomes.get(r.api);
          return {
            api: r.api,
            action: r.plan === 'creating' ? 'created' : r.plan === 'updating' ? 'updated' : 'up-to-date',
            environment: env.name,
            namespace: conn.namespace,
            generation: r.generation,
            status: o === undefined ? 'applied' : o.kind,
            ...(o && 'reason' in o ? { reason: o.reason } : {}),
            ...(o && 'api' in o && o.api?.status?.endpoint ? { endpoint: o.api.status.endpoint } : {}),
          };
        }),
        null,
        2,
      ),
    );
  } else {
    printResults(results, outcomes, conn, projectDir);
  }
  const interrupted = [...outcomes.values()].some((o) => o.kind === 'interrupted');
  if (interrupted) {
    err(`stopped waiting; the deploy goes on in the cluster: follow it with cortex get ${envArgs(conn)} -w`);
    process.exitCode = 130;
    return;
  }
  const failed = [...outcomes.entries()].filter(([, o]) => o.kind === 'failed' || o.kind === 'timeout');
  if (failed.length > 0) {
    throw new CliError(
      failed
        .map(
          ([api, o]) =>
            `${api} is not live: ${'reason' in o ? o.reason : o.kind}${o.kind === 'timeout' ? ` (gave up after ${flags.timeout}; it may still become live: cortex get ${api} ${envArgs(conn)} -w)` : ''}`,
        )
        .join('\n') +
        `\nthe new spec stays applied; fix the problem and deploy again (logs: cortex logs <api> ${envArgs(conn)})`,
      ExitCode.Failed,
    );
  }
}

function printResults(
  results: ClusterDeployResult[],
  outcomes: Map<string, WaitOutcome>,
  conn: Connection,
  projectDir: string,
): void {
  const c = colors(process.stdout);
  const e = colors(process.stderr);
  for (const r of results) {
    const o = outcomes.get(r.api);
    const verb = r.plan === 'creating' ? 'created' : r.plan === 'updating' ? 'updated' : 'is up to date';
    if (o === undefined) {
      out(
        `${r.api} ${verb} in ${conn.env.name} (namespace ${conn.namespace}); follow it with: cortex get ${r.api} ${envArgs(conn)} -w`,
      );
      continue;
    }
    if (o.kind !== 'live') continue;
    out(
      `${r.api} ${r.plan === 'up to date' ? 'is up to date and live' : `${verb} and live`} in ${conn.env.name}: ${c.cyan(o.api.status?.endpoint ?? '')} ${e.dim('(inside the cluster)')}`,
    );
  }
  const live = results.filter((r) => outcomes.get(r.api)?.kind === 'live');
  if (live.length > 0) {
    const name = live[0].api;
    err(e.dim(`try it: cortex predict ${name} ${envArgs(conn)} sample.json`));
    err(
      e.dim(
        `or:     ${kubectlArgs(conn)} port-forward service/${name} 8080:80 &  ${curlExample('http://localhost:8080/', projectDir)}`,
      ),
    );
    err(e.dim(`status: cortex get ${envArgs(conn)}   logs: cortex logs ${name} ${envArgs(conn)}`));
  }
}
