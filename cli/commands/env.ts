// `cortex env list|configure|default|delete`: the environments the CLI deploys to: local (this
// machine) and clusters (a kubeconfig context and a namespace).
import { Type, type Static } from '@sinclair/typebox';
import { Command } from 'commander';
import { kubeconfigPath } from '../cluster/connect.ts';
import { CliError, ExitCode } from '../errors.ts';
import type { Factory } from '../factory.ts';
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
import { colorsOf, printErr, printOut } from '../io.ts';
import { table } from '../output.ts';
import { action, format, outputOption, type RunF } from './common.ts';

export const EnvListOptions = Type.Object({ output: Type.String() });
export type EnvListOptions = Static<typeof EnvListOptions>;

export const EnvConfigureOptions = Type.Object({
  name: Type.String(),
  port: Type.Optional(Type.String()),
  host: Type.Optional(Type.String()),
  context: Type.Optional(Type.String()),
  namespace: Type.Optional(Type.String()),
  kubeconfig: Type.Optional(Type.String()),
  /** false with --no-check. */
  check: Type.Boolean(),
});
export type EnvConfigureOptions = Static<typeof EnvConfigureOptions>;

export const EnvDefaultOptions = Type.Object({ name: Type.Optional(Type.String()) });
export type EnvDefaultOptions = Static<typeof EnvDefaultOptions>;

export const EnvDeleteOptions = Type.Object({ name: Type.String() });
export type EnvDeleteOptions = Static<typeof EnvDeleteOptions>;

/** Run functions of the env subcommands, each replaceable (tests). */
export interface EnvRunners {
  list: RunF<EnvListOptions>;
  configure: RunF<EnvConfigureOptions>;
  default: RunF<EnvDefaultOptions>;
  delete: RunF<EnvDeleteOptions>;
}

/** Where an environment's APIs go, in a few words. */
function describe(e: Environment): string {
  if (e.provider === 'local') return `${baseUrl(e)} (listening on ${e.host}:${e.port})`;
  return `context ${e.context ?? '(current)'}, namespace ${e.namespace}${e.kubeconfig ? `, ${e.kubeconfig}` : ''}`;
}

export function runEnvList(flags: EnvListOptions, f: Factory): void {
  const config = readEnvConfig(f.layout());
  const rows = config.environments.map((e) => ({
    ...e,
    ...(e.provider === 'local' ? { url: baseUrl(e) } : {}),
    default: e.name === config.defaultEnvironment,
  }));
  if (format(flags) === 'json') return printOut(f.io, JSON.stringify(rows, null, 2));
  const c = colorsOf(f.io, 'stdout');
  printOut(
    f.io,
    table(
      ['env', 'provider', 'where', ''],
      config.environments.map((e) => [
        e.name,
        e.provider,
        describe(e),
        e.name === config.defaultEnvironment ? c.green('default') : '',
      ]),
      c,
    ),
  );
}

export async function runEnvConfigure(flags: EnvConfigureOptions, f: Factory): Promise<void> {
  const name = flags.name;
  const problem = checkEnvironmentName(name);
  if (problem) throw new CliError(problem, ExitCode.Usage);
  const l = f.layout();
  const config = readEnvConfig(l);
  if (name === LOCAL) return configureLocal(flags, f);
  if (flags.port !== undefined || flags.host !== undefined) {
    throw new CliError(
      `--port and --host are for the local environment; ${name} is a cluster environment ` +
        '(--context, --namespace, --kubeconfig)',
      ExitCode.Usage,
    );
  }
  const found = config.environments.find((e) => e.name === name);
  const existing = found?.provider === 'kubernetes' ? found : undefined;
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
  const current = f.kubeContext(next); // the file and the context must exist, checked or not
  if (flags.check !== false) {
    try {
      await f.cluster(next).check();
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      throw new CliError(`${error.message}\n(nothing was saved; --no-check saves anyway)`, ExitCode.Failed);
    }
  }
  config.environments = [...config.environments.filter((e) => e.name !== name), next];
  writeEnvConfig(l, config);
  printOut(
    f.io,
    `configured ${name}: context ${current}${next.context ? '' : ' (the current one, when a command runs)'}, ` +
      `namespace ${next.namespace}`,
  );
  if (config.defaultEnvironment !== name)
    printErr(f.io, `use it with -e ${name}, or make it the default: cortex env default ${name}`);
}

export function runEnvDefault(flags: EnvDefaultOptions, f: Factory): void {
  const name = flags.name;
  const l = f.layout();
  const config = readEnvConfig(l);
  if (name === undefined) return printOut(f.io, config.defaultEnvironment);
  if (!config.environments.some((e) => e.name === name)) throw unknown(name, config.environments);
  config.defaultEnvironment = name;
  writeEnvConfig(l, config);
  printErr(f.io, `the default environment is now ${name}`);
}

export function runEnvDelete(flags: EnvDeleteOptions, f: Factory): void {
  const name = flags.name;
  if (name === LOCAL)
    throw new CliError('the local environment cannot be deleted (delete its APIs with cortex delete)', ExitCode.Usage);
  const l = f.layout();
  const config = readEnvConfig(l);
  if (!config.environments.some((e) => e.name === name)) throw unknown(name, config.environments);
  config.environments = config.environments.filter((e) => e.name !== name);
  if (config.defaultEnvironment === name) config.defaultEnvironment = LOCAL;
  writeEnvConfig(l, config);
  printErr(
    f.io,
    `deleted environment ${name}${config.defaultEnvironment === LOCAL ? '; the default environment is local' : ''}`,
  );
}

export function envCommand(f: Factory, runners: Partial<EnvRunners> = {}): Command {
  const run: EnvRunners = {
    list: runEnvList,
    configure: runEnvConfigure,
    default: runEnvDefault,
    delete: runEnvDelete,
    ...runners,
  };
  const env = new Command('env').description(
    'list and configure environments: local (this machine) or a Kubernetes cluster',
  );

  env
    .command('list')
    .description('list the environments')
    .addOption(outputOption())
    .action(action(EnvListOptions, [], (options) => run.list(options, f)));

  env
    .command('configure')
    .description(
      'add or change an environment: local (its port and address) ' +
        'or a cluster (--context, --namespace, --kubeconfig)',
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
    .action(action(EnvConfigureOptions, ['name'], (options) => run.configure(options, f)));

  env
    .command('default')
    .description('set the default environment (or print it)')
    .argument('[name]', 'environment')
    .action(action(EnvDefaultOptions, ['name'], (options) => run.default(options, f)));

  env
    .command('delete')
    .description('forget an environment (its APIs keep running in the cluster)')
    .argument('<name>', 'environment')
    .action(action(EnvDeleteOptions, ['name'], (options) => run.delete(options, f)));
  return env;
}

function unknown(name: string, environments: Environment[]): CliError {
  return new CliError(
    `no environment named "${name}"; environments: ${environments.map((e) => e.name).join(', ')} ` +
      `(add a cluster with: cortex env configure ${name} --context <context>)`,
    ExitCode.NotFound,
  );
}

async function configureLocal(flags: EnvConfigureOptions, f: Factory): Promise<void> {
  if (flags.context !== undefined || flags.namespace !== undefined || flags.kubeconfig !== undefined) {
    throw new CliError(
      '--context, --namespace and --kubeconfig are for cluster environments; ' +
        'give the environment a name: cortex env configure prod --context <context>',
      ExitCode.Usage,
    );
  }
  const l = f.layout();
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
  const running = await f.local(local).findSupervisor();
  if (running) {
    const answer = await running.request<{ listening: boolean; error?: string; port: number }>('POST', '/reload');
    if (answer.body.error)
      throw new CliError(`saved, but the running APIs could not move: ${answer.body.error}`, ExitCode.Failed);
  }
  printOut(f.io, `configured ${LOCAL}: APIs are served at ${baseUrl(local)}/<endpoint>`);
}
