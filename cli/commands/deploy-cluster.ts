// `cortex deploy` to a kubernetes environment: the printing around cluster/deploy.ts and
// cluster/wait.ts. Ctrl-C while waiting stops the waiting, not the deploy.
import type { ClusterDeployResult } from '../cluster/deploy.ts';
import type { WaitOutcome } from '../cluster/wait.ts';
import { KIND, parseDurationMs } from '../../operator/api/v1alpha1/index.ts';
import type { ClusterEnvironment } from '../environments.ts';
import { CliError, ExitCode } from '../errors.ts';
import type { ClusterSession, Factory } from '../factory.ts';
import { colorsOf, isTty, printErr, printOut, type IOStreams } from '../io.ts';
import { curlExample } from '../local/examples.ts';
import type { OutputFormat } from '../output.ts';
import { Progress } from '../progress.ts';

/** The flags of `cortex deploy` a cluster deploy reads. */
export interface ClusterDeployFlags {
  config: string;
  wait?: boolean;
  timeout: string;
  bundle: boolean;
}

/** What the printed command lines need of a cluster environment. */
type Where = Pick<ClusterSession, 'env' | 'namespace' | 'context'>;

/** `-e prod` and the namespace, as the command lines the CLI prints need them. */
export function envArgs(conn: Where): string {
  return `-e ${conn.env.name}`;
}

function kubectlArgs(conn: Where): string {
  return `kubectl --context ${conn.context} -n ${conn.namespace}`;
}

export async function deployToClusterCommand(
  flags: ClusterDeployFlags,
  env: ClusterEnvironment,
  f: Factory,
  fmt: OutputFormat,
): Promise<void> {
  let timeoutMs: number;
  try {
    timeoutMs = parseDurationMs(flags.timeout);
  } catch {
    throw new CliError(`--timeout must be a duration such as 90s, 10m or 1h, got "${flags.timeout}"`, ExitCode.Usage);
  }
  const conn = f.cluster(env);
  const io = f.io;
  const progress = new Progress(io);
  const e = colorsOf(io, 'stderr');
  const { projectDir, results } = await conn
    .deploy(
      { config: flags.config, noBundle: flags.bundle === false },
      {
        step: (label) => progress.step(label),
        warning: (message) => progress.note(`${e.yellow('warning:')} ${message}`),
      },
    )
    .finally(() => progress.stop());

  const wait = flags.wait ?? isTty(io.stderr);
  const outcomes = new Map<string, WaitOutcome>();
  if (wait) {
    const interrupt = f.onInterrupt();
    try {
      // a BatchAPI or TaskAPI has no replicas: it is ready once applied, its jobs start pods
      for (const r of results.filter((x) => x.kind === KIND)) {
        const step = progress.step(`waiting for ${r.api}`);
        const outcome = await conn.waitForRollout({
          name: r.api,
          generation: r.generation,
          timeoutMs,
          interrupted: interrupt.promise,
          // on a terminal the spinner's label changes; in a log each change is a line
          progress: (label) =>
            isTty(io.stderr) ? step.update(`${r.api}: ${label}`) : step.detail(`${r.api}: ${label}`),
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
    printOut(
      io,
      JSON.stringify(
        results.map((r) => {
          const o = outcomes.get(r.api);
          return {
            api: r.api,
            kind: r.kind,
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
    printResults(io, results, outcomes, conn, projectDir);
  }
  const interrupted = [...outcomes.values()].some((o) => o.kind === 'interrupted');
  if (interrupted) {
    printErr(io, `stopped waiting; the deploy goes on in the cluster: follow it with cortex get ${envArgs(conn)} -w`);
    f.exitCode = 130;
    return;
  }
  const failed = [...outcomes.entries()].filter(([, o]) => o.kind === 'failed' || o.kind === 'timeout');
  if (failed.length > 0) {
    throw new CliError(
      failed
        .map(
          ([api, o]) =>
            `${api} is not live: ${'reason' in o ? o.reason : o.kind}` +
            (o.kind === 'timeout'
              ? ` (gave up after ${flags.timeout}; it may still become live: cortex get ${api} ${envArgs(conn)} -w)`
              : ''),
        )
        .join('\n') +
        `\nthe new spec stays applied; fix the problem and deploy again (logs: cortex logs <api> ${envArgs(conn)})`,
      ExitCode.Failed,
    );
  }
}

function printResults(
  io: IOStreams,
  results: ClusterDeployResult[],
  outcomes: Map<string, WaitOutcome>,
  conn: Where,
  projectDir: string,
): void {
  const c = colorsOf(io, 'stdout');
  const e = colorsOf(io, 'stderr');
  for (const r of results) {
    const o = outcomes.get(r.api);
    const verb = r.plan === 'creating' ? 'created' : r.plan === 'updating' ? 'updated' : 'is up to date';
    if (r.kind !== KIND) {
      printOut(
        io,
        `${r.kind} ${r.api} ${verb} in ${conn.env.name} (namespace ${conn.namespace}); ` +
          `submit a job with: cortex submit ${r.api} job.json ${envArgs(conn)}`,
      );
      continue;
    }
    if (o === undefined) {
      printOut(
        io,
        `${r.api} ${verb} in ${conn.env.name} (namespace ${conn.namespace}); ` +
          `follow it with: cortex get ${r.api} ${envArgs(conn)} -w`,
      );
      continue;
    }
    if (o.kind !== 'live') continue;
    const how = r.plan === 'up to date' ? 'is up to date and live' : `${verb} and live`;
    printOut(
      io,
      `${r.api} ${how} in ${conn.env.name}: ${c.cyan(o.api.status?.endpoint ?? '')} ${e.dim('(inside the cluster)')}`,
    );
  }
  const live = results.filter((r) => outcomes.get(r.api)?.kind === 'live');
  if (live.length > 0) {
    const name = live[0].api;
    printErr(io, e.dim(`try it: cortex predict ${name} ${envArgs(conn)} sample.json`));
    const forward = `${kubectlArgs(conn)} port-forward service/${name} 8080:80 &`;
    printErr(io, e.dim(`or:     ${forward}  ${curlExample('http://localhost:8080/', projectDir)}`));
    printErr(io, e.dim(`status: cortex get ${envArgs(conn)}   logs: cortex logs ${name} ${envArgs(conn)}`));
  }
}
