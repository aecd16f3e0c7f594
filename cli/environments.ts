// The CLI's environments, kept in $CORTEX_HOME/cli.yaml (Cortex's file and field names):
//
//   default_environment: local
//   environments:
//     - name: local
//       provider: local
//       port: 8888          # the port every API shares
//       host: 127.0.0.1     # the address it listens on (0.0.0.0: reachable from other machines)
//     - name: prod
//       provider: kubernetes
//       context: prod-admin # kubeconfig context (default: the kubeconfig's current context)
//       namespace: ml       # where the RealtimeAPIs go (default: default)
//       kubeconfig: ~/.kube/prod.yaml   # default: $KUBECONFIG, else ~/.kube/config
//
// The local environment always exists, even without a file.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { CliError, ExitCode } from './errors.ts';
import type { Layout } from './local/paths.ts';

export const LOCAL = 'local';
export const DEFAULT_PORT = 8888;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_NAMESPACE = 'default';
export const PROVIDERS = ['local', 'kubernetes'] as const;

export interface LocalEnvironment {
  name: string;
  provider: 'local';
  port: number;
  host: string;
}

export interface ClusterEnvironment {
  name: string;
  provider: 'kubernetes';
  /** kubeconfig context; absent: the kubeconfig's current context when a command runs. */
  context?: string;
  namespace: string;
  /** kubeconfig file; absent: $KUBECONFIG, else ~/.kube/config. */
  kubeconfig?: string;
}

export type Environment = LocalEnvironment | ClusterEnvironment;

export interface EnvConfig {
  defaultEnvironment: string;
  environments: Environment[];
}

function defaultLocal(): LocalEnvironment {
  return { name: LOCAL, provider: 'local', port: DEFAULT_PORT, host: DEFAULT_HOST };
}

function invalid(file: string, message: string): never {
  throw new CliError(`${file}: ${message}; fix the file or remove it to start over`, ExitCode.Usage);
}

/** Environment names: what `-e` takes, a DNS label so they read well in prompts and files. */
export function checkEnvironmentName(name: string): string | undefined {
  return /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)
    ? undefined
    : `environment names are lowercase letters, digits and dashes (like prod or staging-eu), got "${name}"`;
}

function parseLocal(file: string, item: Record<string, unknown>): LocalEnvironment {
  const port = item.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535)
    invalid(file, `environment ${String(item.name)}: port must be a whole number from 1 to 65535`);
  const host = item.host ?? DEFAULT_HOST;
  if (typeof host !== 'string' || host === '')
    invalid(file, `environment ${String(item.name)}: host must be an address such as 127.0.0.1 or 0.0.0.0`);
  if (item.name !== LOCAL)
    invalid(
      file,
      `environment ${String(item.name)}: provider local is only for the environment named local ` +
        '(other environments are provider: kubernetes)',
    );
  return { name: LOCAL, provider: 'local', port: port as number, host };
}

function parseCluster(file: string, item: Record<string, unknown>): ClusterEnvironment {
  const name = String(item.name);
  const optionalString = (field: string): string | undefined => {
    const value = item[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || value === '')
      invalid(file, `environment ${name}: ${field} must be a non-empty string`);
    return value;
  };
  const env: ClusterEnvironment = {
    name,
    provider: 'kubernetes',
    namespace: optionalString('namespace') ?? DEFAULT_NAMESPACE,
  };
  const context = optionalString('context');
  const kubeconfig = optionalString('kubeconfig');
  if (context !== undefined) env.context = context;
  if (kubeconfig !== undefined) env.kubeconfig = kubeconfig;
  return env;
}

export function readEnvConfig(l: Layout): EnvConfig {
  let text: string;
  try {
    text = readFileSync(l.config, 'utf8');
  } catch {
    return { defaultEnvironment: LOCAL, environments: [defaultLocal()] };
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (error) {
    invalid(l.config, `invalid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  const doc = (raw ?? {}) as Record<string, unknown>;
  if (typeof doc !== 'object' || Array.isArray(doc))
    invalid(l.config, 'must be a mapping with default_environment and environments');
  const environments: Environment[] = [];
  const list = doc.environments ?? [];
  if (!Array.isArray(list)) invalid(l.config, 'environments must be a list');
  for (const item of list as Record<string, unknown>[]) {
    if (item === null || typeof item !== 'object')
      invalid(l.config, 'each environment must be a mapping with name and provider');
    if (typeof item.name !== 'string' || checkEnvironmentName(item.name) !== undefined)
      invalid(l.config, checkEnvironmentName(String(item.name)) ?? 'each environment needs a name');
    if (environments.some((e) => e.name === item.name)) invalid(l.config, `environment ${item.name} is listed twice`);
    const provider = item.provider ?? (item.name === LOCAL ? 'local' : undefined);
    if (provider === 'local') environments.push(parseLocal(l.config, item));
    else if (provider === 'kubernetes') environments.push(parseCluster(l.config, item));
    else
      invalid(
        l.config,
        `environment ${item.name}: provider must be one of ${PROVIDERS.join(', ')}, got ${String(provider)}`,
      );
  }
  if (!environments.some((e) => e.name === LOCAL)) environments.unshift(defaultLocal());
  const defaultEnvironment = typeof doc.default_environment === 'string' ? doc.default_environment : LOCAL;
  return { defaultEnvironment, environments };
}

function serialize(e: Environment): Record<string, unknown> {
  if (e.provider === 'local') return { name: e.name, provider: e.provider, port: e.port, host: e.host };
  return {
    name: e.name,
    provider: e.provider,
    ...(e.context ? { context: e.context } : {}),
    namespace: e.namespace,
    ...(e.kubeconfig ? { kubeconfig: e.kubeconfig } : {}),
  };
}

export function writeEnvConfig(l: Layout, config: EnvConfig): void {
  // private whatever the umask: the home holds the control socket (cli/local/paths.ts makes it 0700 too)
  mkdirSync(path.dirname(l.config), { recursive: true, mode: 0o700 });
  const doc = { default_environment: config.defaultEnvironment, environments: config.environments.map(serialize) };
  const tmp = `${l.config}.${process.pid}.tmp`;
  writeFileSync(tmp, YAML.stringify(doc), { mode: 0o600 });
  renameSync(tmp, l.config);
}

/** The environment a command runs against: -e NAME, else the default one. */
export function resolveEnvironment(l: Layout, name: string | undefined): Environment {
  const config = readEnvConfig(l);
  const wanted = name ?? config.defaultEnvironment;
  const env = config.environments.find((e) => e.name === wanted);
  if (env === undefined) {
    throw new CliError(
      `no environment named "${wanted}"; environments: ${config.environments.map((e) => e.name).join(', ')} ` +
        `(add a cluster with: cortex env configure ${wanted} --context <kubeconfig context>)`,
      ExitCode.NotFound,
    );
  }
  return env;
}

/** The local environment's settings (the gateway's port and address). */
export function localEnvironment(l: Layout): LocalEnvironment {
  return (
    (readEnvConfig(l).environments.find((e) => e.provider === 'local') as LocalEnvironment | undefined) ??
    defaultLocal()
  );
}

/** The URL users call: localhost for a wildcard address. */
export function baseUrl(env: LocalEnvironment): string {
  const host =
    env.host === '0.0.0.0' || env.host === '::' || env.host === '127.0.0.1'
      ? 'localhost'
      : env.host.includes(':')
        ? `[${env.host}]`
        : env.host;
  return `http://${host}:${env.port}`;
}
