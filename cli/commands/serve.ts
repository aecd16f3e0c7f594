// `cortex serve`: run one API's runtime in the foreground. This is exactly what a replica's
// container runs; the local environment runs it too.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Command, Option } from 'commander';
import { loadProject } from '../config/load.ts';
import { ConfigError, explainConfigError } from '../config/errors.ts';
import { isPodApi, parseMemBytes } from '../../operator/api/v1alpha1/index.ts';
import { apiLogger } from '../../operator/util/log.ts';
import { RUNTIME_SPEC_ENV, RuntimeSpecError, parseRuntimeSpec } from '../../operator/reconcilers/runtime-spec.ts';
import { DEFAULT_PREDICT_TIMEOUT_MS, type Replica } from '../../runtime/replica.ts';
import { API_KEYS_DIR_ENV } from '../../operator/reconcilers/api-keys.ts';
import { CliError } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { isTty, printErr, type IOStreams } from '../io.ts';
import { action, type RunF } from './common.ts';

export const ServeOptions = Type.Object({
  config: Type.String(),
  api: Type.Optional(Type.String()),
  port: Type.String(),
  host: Type.String(),
  maxBodySize: Type.String(),
  gracePeriod: Type.String(),
  requestTimeout: Type.String(),
  predictTimeout: Type.String(),
  apiSpec: Type.Optional(Type.String()),
  apiKeys: Type.Optional(Type.String()),
  upstreamPort: Type.Optional(Type.String()),
  adminPort: Type.String(),
  containerPrefix: Type.Optional(Type.String()),
  queue: Type.Optional(Type.String()),
  queueScope: Type.Optional(Type.String()),
});
export type ServeOptions = Static<typeof ServeOptions>;

/** What serving needs from the world: `cortex serve` runs with only this (cli/serve-main.ts). */
export type ServeFactory = Pick<Factory, 'io' | 'startReplica' | 'onTerminate' | 'exit'>;

export function serveCommand(f: ServeFactory, runF: RunF<ServeOptions, ServeFactory> = runServe): Command {
  return new Command('serve')
    .description('run one API in the foreground (what every replica runs)')
    .argument('[config]', 'cortex.yaml, or the folder that holds it', '.')
    .option('--api <name>', 'which API of cortex.yaml to serve (required when it lists several)')
    .addOption(new Option('-p, --port <port>', 'port to listen on').default('8888').env('CORTEX_PORT'))
    .addOption(new Option('--host <host>', 'address to listen on').default('0.0.0.0').env('CORTEX_HOST'))
    .addOption(
      new Option('--max-body-size <size>', 'largest request body accepted (larger: 413)')
        .default('10Mi')
        .env('CORTEX_MAX_BODY_SIZE'),
    )
    .addOption(
      new Option('--grace-period <seconds>', 'time in-flight requests get after SIGTERM')
        .default('30')
        .env('CORTEX_GRACE_PERIOD'),
    )
    .addOption(
      new Option('--request-timeout <seconds>', 'a client must send its whole request within this (else 408)').default(
        '30',
      ),
    )
    .addOption(
      new Option(
        '--predict-timeout <seconds>',
        'a prediction not answered within this gets 504 and its stuck worker is replaced (0: no limit)',
      )
        .default(String(DEFAULT_PREDICT_TIMEOUT_MS / 1000))
        .env('CORTEX_PREDICT_TIMEOUT'),
    )
    .addOption(
      new Option(
        '--api-spec <json>',
        'the RealtimeAPI to serve, as JSON, instead of the one in cortex.yaml (the operator sets it in every replica)',
      )
        .env(RUNTIME_SPEC_ENV)
        .hideHelp(),
    )
    .addOption(
      new Option(
        '--api-keys <dir>',
        'require an API key (Authorization: Bearer) for predictions, checked against the key records in this ' +
          'folder, read again every second (docs/auth.md; the operator sets it for networking.auth: api_key)',
      ).env(API_KEYS_DIR_ENV),
    )
    .option(
      '--upstream-port <port>',
      "pod APIs: the port the API's containers listen on (CORTEX_PORT; default: pod.port)",
    )
    .option(
      '--admin-port <port>',
      "gRPC and pod APIs: the HTTP port of /healthz, /readyz, /metrics (pod APIs: cortex proxy's)",
      '15000',
    )
    .addOption(
      new Option(
        '--queue <url>',
        "an AsyncAPI's request queue: redis://HOST:PORT (docs/async.md; the operator and the local environment set it)",
      ).env('CORTEX_QUEUE_URL'),
    )
    .addOption(
      new Option('--queue-scope <scope>', "where the API's queue is on that server (the namespace)")
        .env('CORTEX_QUEUE_SCOPE')
        .hideHelp(),
    )
    .addOption(
      new Option('--container-prefix <prefix>', "pod APIs: start of the containers' names (the supervisor's)")
        .env('CORTEX_CONTAINER_PREFIX')
        .hideHelp(),
    )
    .action(action(ServeOptions, ['config'], (options) => runF(options, f)));
}

export async function runServe(flags: ServeOptions, f: ServeFactory): Promise<void> {
  const { name, spec, dir } =
    flags.apiSpec !== undefined
      ? resolveApiSpec(flags.apiSpec, flags.config, flags.api)
      : resolveApi(f.io, flags.config, flags.api);
  if (isPodApi(spec)) {
    // Its containers, run by docker, podman or buildah, with cortex proxy in front (pod-serve.ts,
    // loaded only here: a predictor replica's start loads none of the local environment).
    const { runPodServe } = await import('../local/pod-serve.ts');
    return runPodServe({
      name,
      spec,
      host: flags.host,
      port: portNumber(flags.port),
      adminPort: portNumber(flags.adminPort, '--admin-port'),
      upstreamPort:
        flags.upstreamPort === undefined ? spec.pod.port : portNumber(flags.upstreamPort, '--upstream-port'),
      containerPrefix: flags.containerPrefix ?? `cortex-${name}-${process.pid}-`,
      gracePeriodMs: wholeNumber('--grace-period', flags.gracePeriod) * 1000,
      terminationLogPath: process.env.CORTEX_TERMINATION_LOG ?? '/dev/termination-log',
      logger: apiLogger(name),
      onTerminate: (handler) => f.onTerminate(handler),
      exit: (code) => f.exit(code),
    });
  }
  // Signals are handled from the start: before the replica is up (say, during a pip
  // install) there is nothing to drain, so SIGTERM ends at once, cleaning up on 'exit'.
  let replica: Pick<Replica, 'port' | 'stop'> | undefined;
  const stop = () => {
    if (replica === undefined) return f.exit(143);
    replica.stop().then(
      () => f.exit(0),
      () => f.exit(1),
    );
  };
  const port = portNumber(flags.port);
  const options = {
    name,
    spec,
    projectDir: dir,
    port,
    host: flags.host,
    maxBodyBytes: bytes('--max-body-size', flags.maxBodySize),
    gracePeriodMs: wholeNumber('--grace-period', flags.gracePeriod) * 1000,
    requestTimeoutMs: wholeNumber('--request-timeout', flags.requestTimeout) * 1000,
    predictTimeoutMs: seconds('--predict-timeout', flags.predictTimeout) * 1000,
    terminationLogPath: process.env.CORTEX_TERMINATION_LOG ?? '/dev/termination-log',
    adminPort: portNumber(flags.adminPort, '--admin-port'),
    ...(flags.apiKeys !== undefined && flags.apiKeys !== '' ? { apiKeysDir: path.resolve(flags.apiKeys) } : {}),
    ...(flags.queue ? { queueUrl: flags.queue } : {}),
    ...(flags.queueScope ? { queueScope: flags.queueScope } : {}),
  };
  f.onTerminate(stop);
  try {
    replica = await f.startReplica(options);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code !== undefined ? listenErrors[code] : undefined;
    if (why !== undefined) throw new CliError(`cannot listen on ${flags.host}:${port}: ${why}`, 1);
    throw error;
  }
  // The hint is for a person at a terminal; replicas under a supervisor or in a pod log
  // "<api> is ready" as JSON instead.
  if (isTty(f.io.stderr)) {
    const host = flags.host === '0.0.0.0' || flags.host === '::' ? 'localhost' : flags.host;
    if (spec.predictor?.protobufPath !== undefined) {
      const proto = path.join(dir, spec.predictor.protobufPath);
      return printErr(f.io, `${name} is ready; call it over gRPC (h2c) at ${host}:${replica.port}, as ${proto} says`);
    }
    const sample = path.join(dir, 'sample.json');
    const data = existsSync(sample) ? `@${path.relative(process.cwd(), sample)}` : `'{}'`;
    const curl = `curl http://${host}:${replica.port}/ -X POST -H 'Content-Type: application/json' -d ${data}`;
    printErr(f.io, `${name} is ready; try:\n  ${curl}`);
  }
}

function resolveApi(io: IOStreams, config: string, wanted: string | undefined) {
  let project;
  try {
    project = loadProject(path.resolve(config));
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(explainConfigError(error), 2);
    throw error;
  }
  for (const warning of project.warnings) printErr(io, `warning: ${warning.message}`);
  const names = project.apis.map((a) => a.name);
  const api =
    wanted === undefined
      ? project.apis.length === 1
        ? project.apis[0]
        : undefined
      : project.apis.find((a) => a.name === wanted);
  if (api === undefined) {
    throw new CliError(
      wanted === undefined
        ? `${project.file} lists ${names.length} APIs (${names.join(', ')}); choose one with --api NAME`
        : `${project.file} has no API named "${wanted}"; it lists: ${names.join(', ')}`,
      2,
    );
  }
  return { name: api.name, spec: api.spec, dir: project.dir };
}

/**
 * A replica: the RealtimeAPI the operator reconciled (CORTEX_API_SPEC) is what runs; `config` is
 * only the project folder its paths are relative to, with or without a cortex.yaml in it.
 */
function resolveApiSpec(json: string, config: string, wanted: string | undefined) {
  let api;
  try {
    api = parseRuntimeSpec(json, wanted);
  } catch (error) {
    if (error instanceof RuntimeSpecError) throw new CliError(error.message, 2);
    throw error;
  }
  const target = path.resolve(config);
  const dir = existsSync(target) && statSync(target).isFile() ? path.dirname(target) : target;
  return { ...api, dir };
}

function wholeNumber(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`${flag} must be a whole number, got "${value}"`, 2);
  return n;
}

const listenErrors: Record<string, string> = {
  EADDRINUSE: 'the address is already in use (choose another --port)',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'no such address on this machine (check --host)',
};

function portNumber(value: string, flag = '--port'): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new CliError(`${flag} must be a port number from 0 to 65535, got "${value}"`, 2);
  }
  return n;
}

function seconds(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new CliError(`${flag} must be a number of seconds (0 or more), got "${value}"`, 2);
  }
  return n;
}

function bytes(flag: string, value: string): number {
  try {
    return parseMemBytes(value);
  } catch {
    throw new CliError(`${flag} must be a size like 10Mi, 500k or 1048576, got "${value}"`, 2);
  }
}
