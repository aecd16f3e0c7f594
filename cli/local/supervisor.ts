// The local environment's supervisor: a small background process (one per $CORTEX_HOME) that
// owns the shared port (the gateway), runs every API's replicas, restarts crashed ones, does
// rolling updates and keeps state.json. The CLI talks to it over a unix socket
// (HTTP + JSON; deploys stream progress as JSON lines). It starts on the CLI's first need and
// exits once no API runs. On start it restores the APIs recorded in state.json.
// This file wires the pieces that keep their own state: each API (api-runner.ts), the gateway's
// port (gateway-binding.ts) and routes (route-table.ts), snapshot removal (snapshot-collector.ts),
// what an earlier supervisor left (leftovers.ts), the watchdog handshake (watchdog-child.ts).
import { chmodSync, mkdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import { apiLogger, type JsonLogger } from '../../operator/util/log.ts';
import { ApiRunner, versionOf, type RunnerContext } from './api-runner.ts';
import type { ReplicaRecord } from './replica-record.ts';
import { acquireLock, adoptableReplicas, killLeftovers, removeLeftoverContainers, removeStrays } from './leftovers.ts';
import { readJson, sendJson, streamTo } from './control-http.ts';
import { parseDurationMs } from '../../operator/api/v1alpha1/index.ts';
import { asyncNames } from '../../runtime/async/records.ts';
import { startLocalQueue, type LocalQueue } from './queue.ts';
import { CHILD_ENV, runWatchdog } from './watchdog.ts';
import { awaitTurn, leaveWatchdog } from './watchdog-child.ts';
import { localEnvironment, type LocalEnvironment } from '../environments.ts';
import { Gateway } from './gateway.ts';
import { GatewayBinding } from './gateway-binding.ts';
import { endpointOwner, routeTable } from './route-table.ts';
import { localJobFront } from './gateway-jobs.ts';
import { jobApis } from './jobs.ts';
import { gatewayAuth } from './gateway-auth.ts';
import { removeLocalKeys } from './keys.ts';
import { checkSocket, layout, secureLayout, type Layout } from './paths.ts';
import {
  ControlRequestError,
  outsideSnapshots,
  parseControlRequest,
  type DeployRequest,
  type SupervisorStatus,
} from './protocol.ts';
import { loadState, writeState, type StateFile } from './state.ts';
import { LocalSplitters, type SplitterRequest } from './splitters-local.ts';
import { RecentMetrics, SAMPLE_MS } from './recent-metrics.ts';
import { SnapshotCollector } from './snapshot-collector.ts';

const HOLD_MS = 10_000;
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const IDLE_EXIT_MS = 3_000;
const READY_TIMEOUT_MS = Number(process.env.CORTEX_READY_TIMEOUT_S ?? 600) * 1000;
const GRACE_PERIOD_S = 30;
const SNAPSHOT_HOLD_MS = 30_000;

/** Environment variables of the supervisor that replicas must not inherit. */
const PRIVATE_ENV = ['CORTEX_PORT', 'CORTEX_HOST', 'CORTEX_TERMINATION_LOG', 'NODE_TEST_CONTEXT', 'NODE_CHANNEL_FD'];

/**
 * `cortex __supervisor`: the supervisor when the watchdog started it (watchdog.ts); run by hand,
 * the watchdog in this process, which runs the supervisor as its child.
 */
export async function runSupervisor(): Promise<void> {
  if (process.env[CHILD_ENV] === '1') return runSupervisorProcess();
  await runWatchdog(layout().home);
}

async function runSupervisorProcess(): Promise<void> {
  await awaitTurn();
  const l = layout();
  secureLayout(l);
  for (const dir of [l.logs, l.run, l.snapshots]) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const log = apiLogger('supervisor');
  if (!acquireLock(l)) {
    log.info('another supervisor already runs for this CORTEX_HOME; exiting');
    log.flush();
    return;
  }
  const { state, warning } = loadState(l);
  if (warning) log.error(warning);
  const adoptable = await adoptableReplicas(l, state);
  await killLeftovers(l, log, new Set(adoptable.map((a) => a.pid)));
  await removeLeftoverContainers(l, log, state, adoptable);
  const supervisor = new Supervisor(l, log, state, localEnvironment(l), adoptable);
  if (warning) supervisor.warnings.push(warning);
  await supervisor.start();
  process.send?.('started'); // the watchdog starts the next standby now
}

class Supervisor {
  private readonly l: Layout;
  private readonly log: JsonLogger;
  private readonly state: StateFile;
  private readonly runners = new Map<string, ApiRunner>();
  /** Each API's requests over the last minutes, for `cortex get`. */
  private readonly recentMetrics = new RecentMetrics();
  /** TrafficSplitters: endpoints the gateway splits between APIs (cli/local/splitters-local.ts). */
  private readonly splitters: LocalSplitters;
  private readonly gateway: Gateway;
  private readonly auth: ReturnType<typeof gatewayAuth>;
  /** The gateway's port: listening, retrying, moving (cli/local/gateway-binding.ts). */
  private readonly binding: GatewayBinding;
  private readonly control: http.Server;
  /** Removes the snapshots no version uses (cli/local/snapshot-collector.ts). */
  private readonly snapshots: SnapshotCollector;
  /** Said to every CLI that asks for the status (a corrupt state.json, ...). */
  readonly warnings: string[] = [];
  private operations = 0;
  private idleSince = Date.now();
  private stopping = false;

  private readonly adoptable: ReplicaRecord[];
  /** AsyncAPIs' queue (cli/local/queue.ts); started with the supervisor. */
  private queue: LocalQueue | undefined;

  constructor(l: Layout, log: JsonLogger, state: StateFile, env: LocalEnvironment, adoptable: ReplicaRecord[] = []) {
    this.adoptable = adoptable;
    this.l = l;
    this.log = log;
    this.state = state;
    this.splitters = new LocalSplitters(state.splitters);
    this.snapshots = new SnapshotCollector(l.snapshots, () => this.usedSnapshots());
    this.auth = gatewayAuth({ layout: l, log, mode: (api) => this.runners.get(api)?.auth ?? 'none' });
    this.gateway = new Gateway(routeTable(this.runners, this.splitters), {
      holdMs: HOLD_MS,
      maxBodyBytes: MAX_BODY_BYTES,
      authorize: this.auth.authorize,
      jobs: localJobFront(l, MAX_BODY_BYTES),
      asyncFront: (api) => {
        const settings = this.runners.get(api)?.async;
        if (!settings || !this.queue) return undefined;
        return {
          broker: this.queue.broker,
          names: asyncNames('local', api),
          resultTtlMs: parseDurationMs(settings.resultTtl),
          maxBodyBytes: MAX_BODY_BYTES,
        };
      },
    });
    this.binding = new GatewayBinding(this.gateway, log, env, () => this.stopping);
    this.control = http.createServer((req, res) => {
      this.operations++;
      this.handle(req, res)
        .catch((error: unknown) => {
          this.log.error(`control ${req.method} ${req.url}: ${(error as Error).stack ?? String(error)}`);
          if (!res.headersSent) sendJson(res, 500, { error: (error as Error).message });
          else res.end();
        })
        .finally(() => {
          this.operations--;
          this.idleSince = Date.now();
        });
    });
  }

  private context(): RunnerContext {
    const baseEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !PRIVATE_ENV.includes(k)) baseEnv[k] = v;
    if (this.queue) baseEnv.CORTEX_QUEUE_URL = this.queue.url;
    return {
      layout: this.l,
      log: this.log,
      changed: () => this.gateway.changed(),
      persist: () => this.persist(),
      forget: (id) => this.gateway.forget(id),
      dropped: () => this.snapshots.collect(),
      baseEnv,
      readyTimeoutMs: READY_TIMEOUT_MS,
      gracePeriodS: GRACE_PERIOD_S,
    };
  }

  async start(): Promise<void> {
    checkSocket(this.l.socket); // another user's socket is refused, not replaced
    // before the socket takes a deploy and any replica starts: replicas are given the queue's URL
    this.queue = await startLocalQueue(this.l.home, this.log);
    rmSync(this.l.socket, { force: true });
    // Whoever can write to the socket runs code as this user: 0600 from the start, whatever the umask.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        this.control.once('error', reject);
        this.control.listen(this.l.socket, () => resolve());
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(this.l.socket, 0o600);
    const ctx = this.context();
    for (const record of Object.values(this.state.apis)) {
      const runner = new ApiRunner(record, ctx);
      this.runners.set(record.name, runner);
      if (record.version) this.snapshots.know(record.version.snapshot);
    }
    removeStrays(this.l, this.usedSnapshots(), new Set(this.runners.keys()), this.adoptable);
    // Bound at once: whoever started the supervisor is about to deploy, or it restores APIs.
    await this.binding.bind();
    for (const runner of this.runners.values()) runner.restore(this.adoptable);
    this.log.info(`supervisor ${process.pid} started`, {
      home: this.l.home,
      port: this.binding.env.port,
      apis: [...this.runners.keys()],
    });
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void this.shutdown(0));
    process.on('SIGHUP', () => {});
    setInterval(() => this.exitWhenIdle(), 1000).unref();
    setInterval(() => void this.recentMetrics.sample(this.status().apis), SAMPLE_MS).unref();
  }

  private anyActive(): boolean {
    for (const runner of this.runners.values()) if (runner.active) return true;
    // a deployed BatchAPI or TaskAPI: its endpoint is served by the gateway
    return jobApis(this.l).length > 0;
  }

  private exitWhenIdle(): void {
    if (this.stopping || this.operations > 0 || this.anyActive() || Date.now() - this.idleSince < IDLE_EXIT_MS) return;
    this.log.info('no API is running; exiting');
    void this.shutdown(0);
  }

  private async closeGatewayIfUnused(): Promise<void> {
    if (this.anyActive()) return;
    await this.binding.close();
  }

  status(): SupervisorStatus {
    const address = this.gateway.address;
    return {
      pid: process.pid,
      home: this.l.home,
      ...(this.warnings.length > 0 ? { warnings: [...this.warnings] } : {}),
      gateway: {
        host: this.binding.env.host,
        port: address?.port ?? this.binding.env.port,
        listening: address !== undefined,
        ...(this.binding.error ? { error: this.binding.error } : {}),
      },
      apis: [...this.runners.values()]
        .map((r) => ({ ...r.status(), recent: this.recentMetrics.recent(r.name) }))
        .sort((a, b) => a.name.localeCompare(b.name)),
      ...(this.splitters.records.size > 0 ? { splitters: this.splitters.status() } : {}),
    };
  }

  private persist(): void {
    this.state.apis = Object.fromEntries([...this.runners.values()].map((r) => [r.name, r.record]));
    this.state.splitters = this.splitters.toState();
    writeState(this.l, this.state);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (this.stopping) return sendJson(res, 503, { error: 'the supervisor is stopping', stopping: true });
    const route = `${req.method} ${(req.url ?? '/').split('?')[0]}`;
    let body: unknown;
    try {
      body = parseControlRequest(route, req.method === 'POST' ? await readJson(req) : {});
    } catch (error) {
      if (!(error instanceof ControlRequestError || error instanceof SyntaxError)) throw error;
      this.log.warn(`control ${route}: refused: ${error.message}`);
      return sendJson(res, 400, { error: error.message });
    }
    switch (route) {
      case 'GET /status':
        // the last minutes' numbers include what was answered just now
        await this.recentMetrics.sample(this.status().apis);
        return sendJson(res, 200, this.status());
      case 'POST /deploy':
        return this.deploy(body as DeployRequest, res);
      case 'POST /refresh':
        return this.refresh((body as { name: string }).name, res);
      case 'POST /delete':
        return this.delete((body as { name: string }).name, res);
      case 'POST /reload':
        return this.reload(res);
      case 'POST /splitter':
        return this.applySplitter(body as SplitterRequest, res);
      case 'POST /shutdown':
        sendJson(res, 200, { stopping: true });
        return void this.shutdown(0);
    }
    sendJson(res, 404, { error: `no control route ${route}` });
  }

  private async deploy(request: DeployRequest, res: http.ServerResponse): Promise<void> {
    const outside = outsideSnapshots(request, this.l.snapshots);
    if (outside) return sendJson(res, 400, { error: outside });
    const emit = streamTo(res);
    const name = request.name;
    this.snapshots.know(request.snapshot);
    // The CLI deploys a project's APIs one after another from one snapshot: a failed first one
    // must not take the snapshot from under the next.
    this.snapshots.hold(request.snapshot, SNAPSHOT_HOLD_MS);
    const endpoint = request.spec.networking.endpoint;
    const clash = endpointOwner(this.runners, this.splitters, endpoint, name);
    if (clash) {
      emit({
        type: 'result',
        api: name,
        action: 'failed',
        reason:
          `endpoint ${endpoint} is already used by API ${clash.name}; ` +
          `set networking.endpoint to another path, or delete ${clash.name}`,
      });
      return void res.end();
    }
    await this.binding.bind();
    if (!this.gateway.address) {
      emit({
        type: 'result',
        api: name,
        action: 'failed',
        reason: this.binding.error ?? 'the gateway is not listening',
      });
      this.snapshots.collect();
      return void res.end();
    }
    let runner = this.runners.get(name);
    if (runner === undefined) {
      runner = new ApiRunner({ name, createdAt: new Date().toISOString() }, this.context());
      this.runners.set(name, runner);
    }
    const outcome = await runner.rollout(versionOf(request), emit);
    if (outcome.action === 'up-to-date') this.snapshots.collect();
    emit({ type: 'result', api: name, ...outcome });
    res.end();
    await this.closeGatewayIfUnused();
  }

  private async refresh(name: string, res: http.ServerResponse): Promise<void> {
    const runner = this.runners.get(name);
    if (runner?.record.version === undefined) return sendJson(res, 404, { error: `no API named ${name} is running` });
    const emit = streamTo(res);
    const outcome = await runner.rollout(
      { ...runner.record.version, deployedAt: new Date().toISOString() },
      emit,
      true,
    );
    emit({ type: 'result', api: name, ...outcome });
    res.end();
  }

  /** Creates or updates a TrafficSplitter (its APIs must be deployed first). */
  private applySplitter(request: SplitterRequest, res: http.ServerResponse): void {
    const apis = [...this.runners.values()].map((r) => ({ name: r.name, endpoint: r.endpoint }));
    const result = this.splitters.apply(request, apis);
    if ('error' in result) return sendJson(res, 400, { error: result.error });
    if (result.action !== 'up-to-date') {
      this.persist();
      this.log.info(`${result.action} TrafficSplitter ${request.name}`);
    }
    sendJson(res, 200, result);
  }

  private async delete(name: string, res: http.ServerResponse): Promise<void> {
    if (this.splitters.delete(name)) {
      this.persist();
      this.log.info(`deleted TrafficSplitter ${name}`);
      return sendJson(res, 200, { deleted: name, portFreed: false });
    }
    const runner = this.runners.get(name);
    if (runner === undefined) return sendJson(res, 404, { error: `no API named ${name}` });
    await runner.delete();
    this.runners.delete(name);
    this.persist();
    removeLocalKeys(this.l, name); // a new API of the same name starts without the old keys
    this.snapshots.collect();
    await this.closeGatewayIfUnused();
    this.log.info(`deleted ${name}`);
    sendJson(res, 200, { deleted: name, portFreed: this.gateway.address === undefined });
  }

  private async reload(res: http.ServerResponse): Promise<void> {
    await this.binding.move(localEnvironment(this.l));
    sendJson(res, 200, this.status().gateway);
  }

  /** The snapshot folders every version in use names. */
  private usedSnapshots(): Set<string> {
    const used = new Set<string>();
    for (const runner of this.runners.values()) for (const s of runner.snapshots()) used.add(s);
    return used;
  }

  private async shutdown(code: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info('stopping every replica');
    await Promise.all([...this.runners.values()].map((r) => r.shutdown()));
    this.snapshots.releaseHolds(); // no deploy can follow: a failed one's snapshot goes now
    this.snapshots.collect();
    if (this.gateway.address) await this.gateway.close();
    await this.queue?.stop();
    this.auth.stop();
    this.control.close();
    rmSync(this.l.socket, { force: true });
    try {
      if (readFileSync(this.l.pidFile, 'utf8').trim() === String(process.pid)) unlinkSync(this.l.pidFile);
    } catch {
      // already gone
    }
    this.log.info('supervisor stopped');
    this.log.flush();
    await leaveWatchdog();
    process.exit(code);
  }
}
