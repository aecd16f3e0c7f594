// The CLI's environments, kept in $CORTEX_HOME/cli.yaml (Cortex's file and field names):
//
//   default_environment: local
//   environments:
//     - name: local
//       provider: local
//       port: 8888          # the port every API shares
//       host: 127.0.0.1     # the address it listens on (0.0.0.0: reachable from other machines)
//
// The local environment always exists, even without a file. Cluster environments come with
// cluster support.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { CliError, ExitCode } from '../errors.ts';
import type { Layout } from './paths.ts';

export const LOCAL = 'local';
export const DEFAULT_PORT = 8888;
export const DEFAULT_HOST = '127.0.0.1';

export interface LocalEnvironment {
  name: string;
  provider: 'local';
  port: number;
  host: string;
}

export type Environment = LocalEnvironment;

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
  if (typeof doc !== 'object' || Array.isArray(doc)) invalid(l.config, 'must be a mapping with default_environment and environments');
  const environments: Environment[] = [];
  const list = doc.environments ?? [];
  if (!Array.isArray(list)) invalid(l.config, 'environments must be a list');
  for (const item of list as Record<string, unknown>[]) {
    if (item === null || typeof item !== 'object') invalid(l.config, 'each environment must be a mapping with name and provider');
    const provider = item.provider ?? 'local';
    if (provider !== 'local') invalid(l.config, `environment ${String(item.name)}: provider ${String(provider)} is not supported yet (only local)`);
    const port = item.port ?? DEFAULT_PORT;
    if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) invalid(l.config, `environment ${String(item.name)}: port must be a whole number from 1 to 65535`);
    const host = item.host ?? DEFAULT_HOST;
    if (typeof host !== 'string' || host === '') invalid(l.config, `environment ${String(item.name)}: host must be an address such as 127.0.0.1 or 0.0.0.0`);
    if (item.name !== LOCAL) invalid(l.config, `environment ${String(item.name)}: only the environment named local exists for now`);
    environments.push({ name: LOCAL, provider: 'local', port: port as number, host });
  }
  if (!environments.some((e) => e.name === LOCAL)) environments.unshift(defaultLocal());
  const defaultEnvironment = typeof doc.default_environment === 'string' ? doc.default_environment : LOCAL;
  return { defaultEnvironment, environments };
}

export function writeEnvConfig(l: Layout, config: EnvConfig): void {
  mkdirSync(path.dirname(l.config), { recursive: true });
  const doc = {
    default_environment: config.defaultEnvironment,
    environments: config.environments.map((e) => ({ name: e.name, provider: e.provider, port: e.port, host: e.host })),
  };
  const tmp = `${l.config}.${process.pid}.tmp`;
  writeFileSync(tmp, YAML.stringify(doc));
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
        '(cluster environments are not supported yet)',
      ExitCode.NotFound,
    );
  }
  return env;
}

/** The local environment's settings (the gateway's port and address). */
export function localEnvironment(l: Layout): LocalEnvironment {
  return readEnvConfig(l).environments.find((e) => e.name === LOCAL) ?? defaultLocal();
}

/** The URL users call: localhost for a wildcard address. */
export function baseUrl(env: LocalEnvironment): string {
  const host = env.host === '0.0.0.0' || env.host === '::' || env.host === '127.0.0.1' ? 'localhost' : env.host.includes(':') ? `[${env.host}]` : env.host;
  return `http://${host}:${env.port}`;
}
