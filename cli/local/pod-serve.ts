// One local replica of a pod API (spec.pod, Cortex 0.36-0.42): the API's containers, run by a
// container runner (runners/runner.ts) on the host network, and cortex proxy's RequestProxy in
// this process in front of them, as the cluster's replica has it. `cortex serve` of a pod API
// runs this; the local supervisor runs that as a replica like any other (a process with a port,
// readiness from the proxy's /readyz, its log, SIGTERM to drain).
//
// The containers listen on the replica's upstream port (pod.port unless the supervisor chose
// another): CORTEX_PORT is set to it and $(CORTEX_PORT) in command and args expands to it. On
// SIGTERM the proxy drains, each container's pre_stop runs, the containers get SIGTERM (SIGKILL
// after the grace period) and are removed. A container that exits ends the replica (exit 1),
// its output and the reason in the log; the supervisor restarts it.
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
import type { ContainerSpec, PodApiSpec } from '../../operator/api/v1alpha1/index.ts';
import { parseQuantity } from '../../operator/api/v1alpha1/quantity.ts';
import type { JsonLogger } from '../../operator/util/log.ts';
import { RequestProxy } from '../../runtime/proxy.ts';
import { CliError } from '../errors.ts';
import { httpGet } from './http-util.ts';
import { refusalMessage } from './pod-apis.ts';
import { describeTried, detectRunnerOnce, type ContainerRunner, type RunningContainer } from './runners/runner.ts';

export interface PodServeOptions {
  name: string;
  spec: PodApiSpec;
  /** Where the proxy takes requests (0: any free port) and on which address. */
  port: number;
  host: string;
  /** The proxy's /healthz, /readyz, /metrics (0: any free port). */
  adminPort: number;
  /** Where the containers listen (CORTEX_PORT). */
  upstreamPort: number;
  /** Names of the containers: `<prefix><container name>`. */
  containerPrefix: string;
  gracePeriodMs: number;
  terminationLogPath: string;
  logger: JsonLogger;
  onTerminate(handler: () => void): void;
  exit(code: number): void;
}

/** The kubelet's $(VAR) expansion of command and args: from the container's env; $$ escapes. */
export function expandVars(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) =>
    m === '$$' ? '$' : name !== undefined && Object.hasOwn(env, name) ? env[name] : m,
  );
}

/** A probe's or hook's port: pod.port means the upstream port the containers were given. */
function mapPort(port: number, spec: PodApiSpec, upstreamPort: number): number {
  return port === spec.pod.port ? upstreamPort : port;
}

export async function runPodServe(o: PodServeOptions): Promise<void> {
  try {
    await serve(o);
  } catch (error) {
    // the reason the supervisor shows (cortex deploy, cortex get), as a replica that failed says it
    writeTermination(o.terminationLogPath, (error as Error).message);
    throw error;
  }
}

function writeTermination(file: string, message: string): void {
  try {
    writeFileSync(file, message);
  } catch {
    // no termination file (run by hand): the error printed is the record
  }
}

async function serve(o: PodServeOptions): Promise<void> {
  const { logger, spec } = o;
  const detection = await detectRunnerOnce();
  const runner = detection.runner;
  if (runner === undefined) {
    throw new CliError(refusalMessage([o.name], detection.tried, `API ${o.name}`, [{ name: o.name, spec }]), 2);
  }
  for (const c of spec.pod.containers) {
    const missing = await runner.missingImage(c.image);
    if (missing) throw new CliError(`API ${o.name}, pod.containers ${c.name}: ${missing}`, 2);
  }
  logger.info(
    `running ${o.name}'s containers with ${runner.name}` +
      (detection.tried.length > 0 ? ` (not ${describeTried(detection.tried)})` : '') +
      `; ${runner.computeNote}`,
  );
  const fail = (message: string) => {
    logger.error(message);
    logger.flush();
    writeTermination(o.terminationLogPath, message);
  };

  const running: RunningContainer[] = [];
  let stopping = false;
  const stopAll = async (graceMs: number) => {
    for (const c of spec.pod.containers) {
      const r = running.find((x) => x.name === o.containerPrefix + c.name);
      if (r) await preStop(c, r, o, logger);
    }
    await Promise.all(running.map((r) => r.stop(graceMs)));
    await runner.remove(spec.pod.containers.map((c) => o.containerPrefix + c.name));
  };
  o.onTerminate(() => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      logger.info(`draining (grace period ${o.gracePeriodMs} ms)`);
      if (!(await proxy.drain(o.gracePeriodMs))) logger.warn('grace period ended with requests still in flight');
      await stopAll(10_000);
      logger.info('stopped');
      logger.flush();
      o.exit(0);
    })().catch(() => o.exit(1));
  });

  const proxy = new RequestProxy({
    api: o.name,
    host: o.host,
    port: o.port,
    adminPort: o.adminPort,
    upstreamPort: o.upstreamPort,
    maxConcurrency: spec.pod.maxConcurrency,
    maxQueueLength: spec.pod.maxQueueLength,
    logger,
  });
  try {
    for (const c of spec.pod.containers) running.push(await start(runner, c, o));
  } catch (error) {
    await stopAll(0);
    throw new CliError(`API ${o.name}: ${runner.name} could not start a container: ${(error as Error).message}`, 1);
  }
  for (const r of running) {
    void r.exited.then(async (exit) => {
      if (stopping) return;
      stopping = true;
      const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
      fail(`container ${r.name.slice(o.containerPrefix.length)} ${how}; its output is in cortex logs ${o.name}`);
      await proxy.drain(0).catch(() => false);
      await stopAll(2000);
      o.exit(1);
    });
  }
  const ports = await proxy.listen();
  await waitUntilReady(o, spec, () => stopping);
  if (stopping) return;
  logger.info(
    `serving ${o.name} on http://${o.host}:${ports.port} (cortex proxy in front of ${runner.name} containers ` +
      `on port ${o.upstreamPort}; max concurrency ${spec.pod.maxConcurrency}, max queue length ` +
      `${spec.pod.maxQueueLength}; admin on port ${ports.adminPort})`,
  );
  logger.flush();
}

async function start(runner: ContainerRunner, c: ContainerSpec, o: PodServeOptions): Promise<RunningContainer> {
  const env = { ...c.env, CORTEX_PORT: String(o.upstreamPort) };
  const r = await runner.run({
    name: o.containerPrefix + c.name,
    image: c.image,
    command: c.command?.map((v) => expandVars(v, env)),
    args: c.args?.map((v) => expandVars(v, env)),
    env,
    cpu: parseQuantity(c.compute.cpu),
    memBytes: c.compute.mem === undefined ? undefined : parseQuantity(c.compute.mem),
  });
  // The container's lines go to this replica's log as they are, marked with the container's name.
  const lines = readline.createInterface({ input: r.output, crlfDelay: Infinity });
  lines.on('line', (line) => process.stdout.write(`[${c.name}] ${line}\n`));
  return r;
}

/** Until pod.port accepts connections and every readiness_probe http_get/tcp_socket succeeds. */
async function waitUntilReady(o: PodServeOptions, spec: PodApiSpec, stopped: () => boolean): Promise<void> {
  const checks: (() => Promise<boolean>)[] = [() => accepts(o.upstreamPort)];
  for (const c of spec.pod.containers) {
    const probe = c.readinessProbe;
    if (probe?.httpGet) {
      const { port, path } = probe.httpGet;
      checks.push(async () => {
        const { status } = await httpGet(mapPort(port, spec, o.upstreamPort), path, probe.timeoutSeconds * 1000);
        return status >= 200 && status < 400;
      });
    } else if (probe?.tcpSocket) {
      const port = mapPort(probe.tcpSocket.port, spec, o.upstreamPort);
      checks.push(() => accepts(port));
    }
  }
  while (!stopped()) {
    let ok = true;
    for (const check of checks) if (!(await check().catch(() => false))) ok = false;
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000, () => (socket.destroy(), resolve(false)));
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** The container's pre_stop: a command inside it, or an HTTP GET to it; failures are logged, not fatal. */
async function preStop(c: ContainerSpec, r: RunningContainer, o: PodServeOptions, logger: JsonLogger): Promise<void> {
  const hook = c.preStop;
  try {
    if (hook?.exec) {
      const code = await r.exec(hook.exec.command);
      if (code !== 0) logger.warn(`container ${c.name}: pre_stop command exited with code ${code}`);
    } else if (hook?.httpGet) {
      const { status } = await httpGet(mapPort(hook.httpGet.port, o.spec, o.upstreamPort), hook.httpGet.path, 10_000);
      if (status < 200 || status >= 400) logger.warn(`container ${c.name}: pre_stop GET answered ${status}`);
    }
  } catch (error) {
    logger.warn(`container ${c.name}: pre_stop failed: ${(error as Error).message}`);
  }
}
