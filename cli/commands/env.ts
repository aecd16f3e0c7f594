// `cortex env list|configure|default|delete`: the environments the CLI deploys to: local (this
// machine) and clusters (a kubeconfig context and a namespace).
import { Command } from 'commander';
import { connect, explain, kubeconfigPath, loadKubeConfig } from '../cluster/connect.ts';
import { REALTIME_APIS } from '../../operator/kube/resources.ts';
import { CliError, ExitCode } from '../errors.ts';
import { findSupervisor } from '../local/client.ts';
import {
  DEFAULT_NAMESPACE,
  LOCAL,
  baseUrl,
  checkEnvironmentName,
  readEnvConfig,
  writeEnvConfig,
  type ClusterEnvironment,
  type Environment,
} from '../environments.ts';
import { layout } from '../local/paths.ts';
import { colors, err, out, table } from '../output.ts';
import { format, outputOption } from './common.ts';

interface ConfigureFlags {
  port?: string;
  host?: string;
  context?: string;
  namespace?: string;
  kubeconfig?: string;
  check?: boolean;
}

/** Where an environment's APIs go, in a few words. */
function describe(e: Environment): string {
  if (e.provider === 'local') return `${baseUrl(e)} (listening on ${e.host}:${e.port})`;
  return `context ${e.context ?? '(current)'}, namespace ${e.namespace}${e.kubeconfig ? `, ${e.kubeconfig}` : ''}`;
}

export function envCommand(): Command {
  const env = new Command('env').description(
    'list and configure environments: local (this machine) or a Kubernetes cluster',
  );

  env
    .command('list')
    .description('list the environments')
    .addOption(outputOption())
    .action((flags: { output: string }) => {
      const config = readEnvConfig(layout());
      const rows = config.environments.map((e) => ({
        ...e,
        ...(e.provider === 'local' ? { url: baseUrl(e) } : {}),
        default: e.name === config.defaultEnvironment,
      }));
      if (format(flags) === 'json') return out(JSON.stringify(rows, null, 2));
      const c = colors(process.stdout);
      out(
        table(
          ['env', 'provider', 'where', ''],
          config.environments.map((e) => [
            e.name,
            e.provider,
            describe(e),
            e.name === config.defaultEnvironment ? c.green('default') : '',
          ]),
        ),
      );
    });

  env
    .command('configure')
    .description(
      'add or change an environment: local (its port and address) or a cluster (--context, --namespace, --kubeconfig)',
    )
    .argument('[name]', 'environment', LOCAL)
    .option('-p, --port <port>', 'local: port the APIs share (default 8888)')
    .option(
      '--host <address>',
      'local: address to listen on: 127.0.0.1 (this machine only, the default) or 0.0.0.0 (every interface)',
    )
    .option('--context <context>', "cluster: kubeconfig context (default: the kubeconfig's current context)")
    .option('-n, --namespace <namespace>', `cluster: namespace of the APIs (default ${DEFAULT_NAMESPACE})`)
    .option('--kubeconfig <file>', 'cluster: kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)')
    .option('--no-check', 'cluster: save without checking that the cluster answers and runs Cortex')
    .action(async (name: string, flags: ConfigureFlags) => {
      const problem = checkEnvironmentName(name);
      if (problem) throw new CliError(problem, ExitCode.Usage);
      const l = layout();
      const config = readEnvConfig(l);
      if (name === LOCAL) return configureLocal(flags);
      if (flags.port !== undefined || flags.host !== undefined) {
        throw new CliError(
          `--port and --host are for the local environment; ${name} is a cluster environment (--context, --namespace, --kubeconfig)`,
          ExitCode.Usage,
        );
      }
      const existing = config.environments.find((e) => e.name === name) as ClusterEnvironment | undefined;
      const next: ClusterEnvironment = {
        name,
        provider: 'kubernetes',
        namespace: flags.namespace ?? existing?.namespace ?? DEFAULT_NAMESPACE,
      };
      const context = flags.context ?? existing?.context;
      const kubeconfig =
        flags.kubeconfig !== undefined ? kubeconfigPath({ kubeconfig: flags.kubeconfig }) : existing?.kubeconfig;
      if (context !== undefined) next.context = context;
      if (kubeconfig !== undefined) next.kubeconfig = kubeconfig;
      const { kc } = loadKubeConfig(next); // the file and the context must exist, checked or not
      if (flags.check !== false) {
        const conn = connect(next);
        try {
          await conn.client.list(REALTIME_APIS, next.namespace, { limit: 1 });
        } catch (error) {
          throw new CliError(
            `${explain(conn, error, `checking ${name}`).message}\n(nothing was saved; --no-check saves anyway)`,
            ExitCode.Failed,
          );
        }
      }
      config.environments = [...config.environments.filter((e) => e.name !== name), next];
      writeEnvConfig(l, config);
      out(
        `configured ${name}: context ${kc.getCurrentContext()}${next.context ? '' : ' (the current one, when a command runs)'}, namespace ${next.namespace}`,
      );
      if (config.defaultEnvironment !== name)
        err(`use it with -e ${name}, or make it the default: cortex env default ${name}`);
    });

  env
    .command('default')
    .description('set the default environment (or print it)')
    .argument('[name]', 'environment')
    .action((name: string | undefined) => {
      const l = layout();
      const config = readEnvConfig(l);
      if (name === undefined) return out(config.defaultEnvironment);
      if (!config.environments.some((e) => e.name === name)) throw unknown(name, config.environments);
      config.defaultEnvironment = name;
      writeEnvConfig(l, config);
      err(`the default environment is now ${name}`);
    });

  env
    .command('delete')
    .description('forget an environment (its APIs keep running in the cluster)')
    .argument('<name>', 'environment')
    .action((name: string) => {
      if (name === LOCAL)
        throw new CliError(
          'the local environment cannot be deleted (delete its APIs with cortex delete)',
          ExitCode.Usage,
        );
      const l = layout();
      const config = readEnvConfig(l);
      if (!config.environments.some((e) => e.name === name)) throw unknown(name, config.environments);
      config.environments = config.environments.filter((e) => e.name !== name);
      if (config.defaultEnvironment === name) config.defaultEnvironment = LOCAL;
      writeEnvConfig(l, config);
      err(
        `deleted environment ${name}${config.defaultEnvironment === LOCAL ? '; the default environment is local' : ''}`,
      );
    });
  return env;
}

function unknown(name: string, environments: Environment[]): CliError {
  return new CliError(
    `no environment named "${name}"; environments: ${environments.map((e) => e.name).join(', ')} (add a cluster with: cortex env configure ${name} --context <context>)`,
    ExitCode.NotFound,
  );
}

async function configureLocal(flags: ConfigureFlags): Promise<void> {
  if (flags.context !== undefined || flags.namespace !== undefined || flags.kubeconfig !== undefined) {
    throw new CliError(
      '--context, --namespace and --kubeconfig are for cluster environments; give the environment a name: cortex env configure prod --context <context>',
      ExitCode.Usage,
    );
  }
  const l = layout();
  const config = readEnvConfig(l);
  const local = config.environments.find((e) => e.name === LOCAL);
  if (local?.provider !== 'local') throw new Error('the local environment is missing');
  if (flags.port !== undefined) {
    const port = Number(flags.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new CliError(`--port must be a whole number from 1 to 65535, got "${flags.port}"`, ExitCode.Usage);
    local.port = port;
  }
  if (flags.host !== undefined) local.host = flags.host;
  writeEnvConfig(l, config);
  const running = await findSupervisor(l);
  if (running) {
    const answer = await running.request<{ listening: boolean; error?: string; port: number }>('POST', '/reload');
    if (answer.body.error)
      throw new CliError(`saved, but the running APIs could not move: ${answer.body.error}`, ExitCode.Failed);
  }
  out(`configured ${LOCAL}: APIs are served at ${baseUrl(local)}/<endpoint>`);
}
