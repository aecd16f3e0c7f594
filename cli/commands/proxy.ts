// `cortex proxy`: the front container of a pod API (spec.pod, Cortex 0.36-0.42's format). The
// operator runs it next to the user's containers with the flags below, from the runtime image;
// runtime/proxy.ts is what it runs.
import { Type, type Static } from '@sinclair/typebox';
import { Command, Option } from 'commander';
import { apiLogger, LOG_LEVELS, type LogLevel } from '../../operator/util/log.ts';
import path from 'node:path';
import { API_KEYS_DIR_ENV } from '../../operator/reconcilers/api-keys.ts';
import { KeyDir } from '../../runtime/key-dir.ts';
import { RequestProxy } from '../../runtime/proxy.ts';
import { CliError } from '../errors.ts';
import type { ServeFactory } from './serve.ts';
import { action } from './common.ts';

export const ProxyOptions = Type.Object({
  api: Type.String(),
  port: Type.String(),
  adminPort: Type.String(),
  upstreamPort: Type.String(),
  host: Type.String(),
  maxConcurrency: Type.String(),
  maxQueueLength: Type.String(),
  gracePeriod: Type.String(),
  logLevel: Type.String(),
  apiKeys: Type.Optional(Type.String()),
});
export type ProxyOptions = Static<typeof ProxyOptions>;

export type ProxyFactory = Pick<ServeFactory, 'io' | 'onTerminate' | 'exit'>;

/** Port of the proxy's /healthz, /readyz and /metrics (Cortex's proxy had its admin port there too). */
export const PROXY_ADMIN_PORT = 15000;

export function proxyCommand(f: ProxyFactory): Command {
  return new Command('proxy')
    .description(
      "forward requests to a pod API's container with its concurrency limits (what a pod API's replica runs)",
    )
    .requiredOption('--api <name>', 'name of the API (labels its metrics and logs)')
    .requiredOption('--upstream-port <port>', "pod.port: where the API's container listens on 127.0.0.1")
    .option('-p, --port <port>', 'port clients send requests to', '8888')
    .option('--admin-port <port>', 'port of /healthz, /readyz and /metrics', String(PROXY_ADMIN_PORT))
    .option('--host <host>', 'address to listen on', '0.0.0.0')
    .option('--max-concurrency <n>', 'requests inside the container at once (pod.max_concurrency)', '1')
    .option('--max-queue-length <n>', 'requests queued beyond those before 503 (pod.max_queue_length)', '100')
    .option('--grace-period <seconds>', 'time admitted requests get after SIGTERM', '30')
    .addOption(new Option('--log-level <level>', 'debug, info, warning or error').default('info'))
    .addOption(
      new Option(
        '--api-keys <dir>',
        'networking.auth api_key: folder of key records (a mounted keys Secret); requests need a valid key',
      ).env(API_KEYS_DIR_ENV),
    )
    .action(action(ProxyOptions, [], (options) => runProxy(options, f)));
}

export async function runProxy(flags: ProxyOptions, f: ProxyFactory): Promise<void> {
  if (!(LOG_LEVELS as readonly string[]).includes(flags.logLevel)) {
    throw new CliError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${flags.logLevel}"`, 2);
  }
  const logger = apiLogger(flags.api, flags.logLevel as LogLevel);
  const options = {
    api: flags.api,
    host: flags.host,
    port: integer('--port', flags.port, 0, 65535),
    adminPort: integer('--admin-port', flags.adminPort, 0, 65535),
    upstreamPort: integer('--upstream-port', flags.upstreamPort, 1, 65535),
    maxConcurrency: integer('--max-concurrency', flags.maxConcurrency, 1),
    maxQueueLength: integer('--max-queue-length', flags.maxQueueLength, 0),
    logger,
  };
  const keyDir =
    flags.apiKeys === undefined || flags.apiKeys === ''
      ? undefined
      : new KeyDir({ dir: path.resolve(flags.apiKeys), warn: (message) => logger.warn(message) });
  const graceMs = integer('--grace-period', flags.gracePeriod, 0) * 1000;
  const proxy = new RequestProxy({
    ...options,
    auth: keyDir && { keys: keyDir.ring },
  });
  let stopping = false;
  f.onTerminate(() => {
    if (stopping) return;
    stopping = true;
    logger.info(`draining (grace period ${graceMs} ms)`);
    proxy.drain(graceMs).then(
      (finished) => {
        if (!finished) logger.warn('grace period ended with requests still in flight');
        keyDir?.stop();
        logger.info('stopped');
        logger.flush();
        f.exit(0);
      },
      () => f.exit(1),
    );
  });
  let ports;
  try {
    ports = await proxy.listen();
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    throw new CliError(`cannot listen on ${flags.host}: ${code ?? message} (choose other --port/--admin-port)`, 1);
  }
  logger.info(
    `proxying ${flags.api}: http://${flags.host}:${ports.port} → 127.0.0.1:${options.upstreamPort} ` +
      `(max concurrency ${options.maxConcurrency}, max queue length ${options.maxQueueLength}; ` +
      `admin on port ${ports.adminPort})`,
    { port: ports.port, adminPort: ports.adminPort },
  );
  logger.flush();
}

function integer(flag: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new CliError(
      `${flag} must be a whole number from ${min}${max < 1e15 ? ` to ${max}` : ''}, got "${value}"`,
      2,
    );
  }
  return n;
}
