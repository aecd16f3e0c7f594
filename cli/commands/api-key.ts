// `cortex api-key create|list|revoke --api NAME`: the keys of an API with networking.auth:
// api_key (docs/auth.md). Locally they are files under $CORTEX_HOME (cli/local/keys.ts), in a
// cluster the API's keys Secret (cli/cluster/api-keys.ts); the gateway, the replicas and the
// activator pick up a change without a restart. A key is printed once, by create, on stdout
// (so `KEY=$(cortex api-key create --api iris)` works) and stored nowhere: only its hash is.
import { randomBytes } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { Command, Option } from 'commander';
import { KEY_ID_PATTERN, newKey, type KeyRecord } from '../../operator/auth/keys.ts';
import type { AuthMode } from '../../operator/api/v1alpha1/index.ts';
import { CliError, ExitCode } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { colorsOf, printErr, printOut } from '../io.ts';
import { localKeyStore } from '../local/keys.ts';
import { table } from '../output.ts';
import { action, envOption, format, notFound, outputOption } from './common.ts';

const Common = { api: Type.String(), env: Type.Optional(Type.String()), output: Type.String() };
export const CreateKeyOptions = Type.Object({
  ...Common,
  name: Type.Optional(Type.String()),
  requestsPerSecond: Type.Optional(Type.String()),
  burst: Type.Optional(Type.String()),
});
export const ListKeysOptions = Type.Object(Common);
export const RevokeKeyOptions = Type.Object({ ...Common, name: Type.String() });
export type CreateKeyOptions = Static<typeof CreateKeyOptions>;
export type ListKeysOptions = Static<typeof ListKeysOptions>;
export type RevokeKeyOptions = Static<typeof RevokeKeyOptions>;

const apiOption = () => new Option('--api <name>', 'the API the key is for').makeOptionMandatory();

export function apiKeyCommand(f: Factory): Command {
  return new Command('api-key')
    .description('manage the API keys of an API with networking.auth: api_key')
    .addCommand(
      new Command('create')
        .description('create a key and print it (once: only its hash is kept)')
        .addOption(apiOption())
        .option('--name <name>', "the key's name, shown in logs and metrics (default: random)")
        .option('--requests-per-second <n>', 'rate limit of this key (token bucket refill); default: none')
        .option('--burst <n>', 'requests allowed at once (bucket size); default: the rate, at least 1')
        .addOption(envOption())
        .addOption(outputOption())
        .action(action(CreateKeyOptions, [], (o) => runCreate(o, f))),
    )
    .addCommand(
      new Command('list')
        .description("list an API's keys by name (never the keys)")
        .addOption(apiOption())
        .addOption(envOption())
        .addOption(outputOption())
        .action(action(ListKeysOptions, [], (o) => runList(o, f))),
    )
    .addCommand(
      new Command('revoke')
        .description('revoke a key: requests with it get 401 (locally at once, in a cluster within ~90 s)')
        .argument('<name>', "the key's name (cortex api-key list)")
        .addOption(apiOption())
        .addOption(envOption())
        .addOption(outputOption())
        .action(action(RevokeKeyOptions, ['name'], (o) => runRevoke(o, f))),
    );
}

/** The API's key store and its auth mode; a missing API is refused before anything is written. */
async function storeFor(f: Factory, flags: { api: string; env?: string }) {
  const env = f.environment(flags.env);
  if (env.provider === 'kubernetes') {
    const cluster = f.cluster(env);
    const api = await cluster.getApi(flags.api); // not found: a CliError listing the APIs
    const auth: AuthMode = api.spec.networking?.auth ?? 'none';
    return { store: cluster.apiKeys(api), auth, file: `RealtimeAPI ${cluster.namespace}/${flags.api}` };
  }
  const local = f.local(env);
  const records = local.records();
  const record = records[flags.api];
  if (record === undefined) throw notFound(flags.api, Object.keys(records));
  const auth: AuthMode = record.version?.spec.networking.auth ?? 'none';
  return {
    store: localKeyStore(local.target.layout, flags.api),
    auth,
    file: record.version?.configFile ?? 'cortex.yaml',
  };
}

function positive(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new CliError(`${flag} must be a number greater than 0, got "${value}"`, ExitCode.Usage);
  }
  return n;
}

export async function runCreate(flags: CreateKeyOptions, f: Factory): Promise<void> {
  const id = flags.name ?? `k${randomBytes(4).toString('hex')}`;
  if (!KEY_ID_PATTERN.test(id)) {
    throw new CliError(
      `--name "${id}": a key's name is 1-40 lowercase letters, digits and -, ` +
        'starting and ending with a letter or digit',
      ExitCode.Usage,
    );
  }
  const requestsPerSecond = positive('--requests-per-second', flags.requestsPerSecond);
  const burst = positive('--burst', flags.burst);
  if (burst !== undefined && requestsPerSecond === undefined) {
    throw new CliError('--burst is the bucket size of a rate limit: give --requests-per-second too', ExitCode.Usage);
  }
  const { store, auth, file } = await storeFor(f, flags);
  const limits: Pick<KeyRecord, 'requestsPerSecond' | 'burst'> = {};
  if (requestsPerSecond !== undefined) limits.requestsPerSecond = requestsPerSecond;
  if (burst !== undefined) limits.burst = burst;
  const { key, record } = newKey(id, limits);
  if (!(await store.add(id, record))) {
    throw new CliError(
      `${flags.api} already has a key named ${id} (in ${store.where}); choose another --name, ` +
        `or revoke it first: cortex api-key revoke ${id} --api ${flags.api}`,
      ExitCode.Failed,
    );
  }
  if (auth === 'none') {
    printErr(
      f.io,
      `warning: ${flags.api} has networking.auth: none (${file}), so this key is not checked yet: ` +
        'set networking.auth: api_key and deploy',
    );
  }
  if (format(flags) === 'json') {
    printOut(f.io, JSON.stringify({ api: flags.api, name: id, key, ...limits, stored: store.where }));
    return;
  }
  printErr(f.io, `created the key ${id} for ${flags.api} (stored hashed in ${store.where}); it is shown only now:`);
  printOut(f.io, key);
}

export async function runList(flags: ListKeysOptions, f: Factory): Promise<void> {
  const { store } = await storeFor(f, flags);
  const keys = [...(await store.list())].sort(([a], [b]) => a.localeCompare(b));
  if (format(flags) === 'json') {
    const rows = keys.map(([name, r]) => ({
      name,
      ...(r.requestsPerSecond !== undefined ? { requestsPerSecond: r.requestsPerSecond, burst: r.burst } : {}),
      created: r.created,
    }));
    printOut(f.io, JSON.stringify({ api: flags.api, keys: rows }));
    return;
  }
  if (keys.length === 0) {
    printOut(f.io, `${flags.api} has no API key (cortex api-key create --api ${flags.api})`);
    return;
  }
  const limit = (r: KeyRecord) =>
    r.requestsPerSecond === undefined
      ? 'none'
      : `${r.requestsPerSecond}/s, burst ${r.burst ?? Math.max(1, Math.ceil(r.requestsPerSecond))}`;
  printOut(
    f.io,
    table(
      ['name', 'rate limit', 'created'],
      keys.map(([name, r]) => [name, limit(r), r.created ?? '-']),
      colorsOf(f.io, 'stdout'),
    ),
  );
}

export async function runRevoke(flags: RevokeKeyOptions, f: Factory): Promise<void> {
  const { store } = await storeFor(f, flags);
  if (!(await store.remove(flags.name))) {
    const known = [...(await store.list()).keys()];
    throw new CliError(
      `${flags.api} has no key named ${flags.name}` +
        (known.length > 0 ? `; its keys: ${known.join(', ')}` : ': it has no keys'),
      ExitCode.NotFound,
    );
  }
  if (format(flags) === 'json') printOut(f.io, JSON.stringify({ api: flags.api, revoked: flags.name }));
  else printOut(f.io, `revoked the key ${flags.name} of ${flags.api}`);
}
