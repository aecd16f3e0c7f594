// One API in the local environment: its serving version's replicas, a rollout's new ones,
// old ones draining; restarts with backoff (restart-backoff.ts); its status, derived in one
// place (api-status.ts).
//
// Rollout: start every replica of the new version, wait until all are ready, switch the
// gateway to them, then stop the old ones (SIGTERM: they finish what they hold). A new version
// whose replica exits before it is ready (failed install, failed __init__, bad code) is
// stopped; the old one never stopped serving.
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { isPodApi, type AsyncSpec, type AuthMode } from '../../operator/api/v1alpha1/index.ts';
import type { Logger } from '../../operator/util/log.ts';
import { isInside, type Layout } from './paths.ts';
import {
  apiStatus,
  publicReason,
  requestedReplicas,
  short,
  unsnap,
  type RunnerView,
  type VersionReplicas,
} from './api-status.ts';
import type { ApiStatus, DeployRequest, RolloutAction, RolloutEvent } from './protocol.ts';
import { ReplicaProcess, type ExitInfo } from './replica.ts';
import { RestartBackoff } from './restart-backoff.ts';
import { replicaRecordFile, writeReplicaRecord, type ReplicaRecord } from './replica-record.ts';
import type { ApiRecord, VersionRecord } from './state.ts';

export interface RunnerContext {
  layout: Layout;
  log: Logger;
  /** Replicas became ready or went away: the gateway routes anew. */
  changed(): void;
  /** The record changed: write state.json. */
  persist(): void;
  /** A replica is gone for good. */
  forget(replicaId: string): void;
  /** A version stopped being used (its snapshot may go). */
  dropped(): void;
  /** Environment of every replica (the supervisor's, less what must not leak). */
  baseEnv: Record<string, string>;
  readyTimeoutMs: number;
  gracePeriodS: number;
}

/** A version's replicas as the runner drives them (api-status.ts reads them as VersionReplicas). */
interface Run extends VersionReplicas {
  /** Restart replicas that exit (true once the version has served). */
  supervised: boolean;
  cancelled: boolean;
  /** A rollout waiting on this run: told about readiness and exits. */
  waiter?: (replica: ReplicaProcess, info?: ExitInfo) => void;
}

export interface RolloutOutcome {
  action: RolloutAction;
  reason?: string;
  replica?: string;
  logTail?: string[];
}

export class ApiRunner {
  readonly record: ApiRecord;
  private readonly ctx: RunnerContext;
  private current: Run | undefined;
  private next: { run: Run; refresh: boolean; promise: Promise<RolloutOutcome> } | undefined;
  private readonly draining = new Map<ReplicaProcess, VersionRecord>();
  /** Restarts of crashed serving replicas, each after its backoff. */
  private readonly backoff = new RestartBackoff();
  private deleted = false;

  constructor(record: ApiRecord, ctx: RunnerContext) {
    this.record = record;
    this.ctx = ctx;
  }

  get name(): string {
    return this.record.name;
  }

  get endpoint(): string {
    const version = this.next?.run.version ?? this.current?.version ?? this.record.version;
    return version?.spec.networking.endpoint ?? `/${this.name}`;
  }

  /** networking.auth of the version that serves now (the gateway checks keys by it). */
  get auth(): AuthMode {
    const version = this.current?.version ?? this.record.version;
    return version?.spec.networking.auth ?? 'none';
  }

  /** spec.async of the newest version: an AsyncAPI's requests are queued by the gateway (docs/async.md). */
  get async(): AsyncSpec | undefined {
    const version = this.next?.run.version ?? this.current?.version ?? this.record.version;
    return version?.spec.async;
  }

  /** Whether replicas run (or should): false for an API whose only version failed. */
  get active(): boolean {
    return this.current !== undefined || this.next !== undefined || this.draining.size > 0;
  }

  /** Every snapshot folder in use. */
  snapshots(): string[] {
    const out = [this.current?.version.snapshot, this.next?.run.version.snapshot, this.record.version?.snapshot];
    for (const version of this.draining.values()) out.push(version.snapshot);
    return out.filter((s): s is string => s !== undefined);
  }

  /** Ready replicas of the serving version: where the gateway sends requests. */
  routable(): ReplicaProcess[] {
    return this.current?.replicas.filter((r) => r.state === 'ready') ?? [];
  }

  isDraining(id: string): boolean {
    for (const r of this.draining.keys()) if (r.id === id) return true;
    return false;
  }

  /**
   * After a supervisor start: run the recorded version again, taking over `adoptable` replicas
   * of that version that still serve (a supervisor that died left them), starting the others.
   */
  restore(adoptable: ReplicaRecord[] = []): void {
    const version = this.record.version;
    if (version === undefined) return;
    if (!existsSync(version.configFile)) {
      this.record.failure = {
        hash: version.hash,
        reason: `its files are gone (${version.snapshot}); deploy it again`,
        at: new Date().toISOString(),
      };
      this.record.version = undefined;
      this.ctx.persist();
      return;
    }
    const adopt = adoptable.filter((a) => a.api === this.name && a.hash === version.hash);
    const run = this.newRun(
      version,
      true,
      adopt.map((a) => a.id),
    );
    this.current = run;
    for (const r of run.replicas) {
      const found = adopt.find((a) => a.id === r.id);
      if (found) {
        r.adopt(found.pid, found.port, new Date(found.startedAt), found.grpcPort);
        writeReplicaRecord(this.ctx.layout, this.name, r, version.hash);
        this.ctx.log.info(`${this.name}: took over replica ${r.id} (pid ${found.pid}), still serving`);
      } else r.start();
    }
    if (adopt.length > 0) this.ctx.changed();
  }

  rollout(version: VersionRecord, emit: (event: RolloutEvent) => void, refresh = false): Promise<RolloutOutcome> {
    if (this.deleted) return Promise.resolve({ action: 'failed', reason: `${this.name} is being deleted` });
    if (!refresh && this.next?.run.version.hash === version.hash) return this.next.promise;
    if (!refresh && this.next === undefined && this.current?.version.hash === version.hash) {
      return Promise.resolve({ action: 'up-to-date' });
    }
    if (this.next) this.cancel(this.next.run);
    const run = this.newRun(version, false);
    const promise = this.runRollout(run, emit, refresh);
    this.next = { run, refresh, promise };
    return promise;
  }

  private async runRollout(run: Run, emit: (event: RolloutEvent) => void, refresh: boolean): Promise<RolloutOutcome> {
    const total = run.replicas.length;
    emit({ type: 'starting', api: this.name, replicas: run.replicas.map((r) => r.id) });
    const outcome = await new Promise<{ ok: true } | { ok: false; replica?: ReplicaProcess; reason: string }>(
      (resolve) => {
        const timer = setTimeout(() => {
          const slow = run.replicas.find((r) => r.state !== 'ready');
          const last = slow?.lastLogLines(1)[0];
          resolve({
            ok: false,
            replica: slow,
            reason:
              `not ready after ${Math.round(this.ctx.readyTimeoutMs / 1000)} s` +
              (last ? `; it last logged: ${last}` : ''),
          });
        }, this.ctx.readyTimeoutMs);
        run.waiter = (replica, exit) => {
          if (run.cancelled) {
            clearTimeout(timer);
            return resolve({ ok: false, reason: 'superseded' });
          }
          if (exit !== undefined) {
            if (exit.expected) return;
            clearTimeout(timer);
            return resolve({ ok: false, replica, reason: exit.reason });
          }
          const ready = run.replicas.filter((r) => r.state === 'ready').length;
          emit({ type: 'replica-ready', api: this.name, replica: replica.id, ready, of: total });
          if (ready === total) {
            clearTimeout(timer);
            resolve({ ok: true });
          }
        };
        for (const r of run.replicas) r.start();
      },
    );
    run.waiter = undefined;
    if (run.cancelled) return { action: 'superseded', reason: 'a newer deploy of this API replaced this one' };
    if (!outcome.ok) {
      const logTail = outcome.replica?.lastLogLines(20) ?? [];
      if (this.next?.run === run) this.next = undefined;
      await this.stopRun(run, true);
      if (!this.deleted) {
        // kept for cortex get after the snapshot is gone: it names the project's files, as deploy's error did
        const reason = unsnap(outcome.reason, run.version);
        this.record.failure = { hash: run.version.hash, reason, at: new Date().toISOString() };
        this.ctx.persist();
      }
      this.ctx.changed();
      this.ctx.dropped();
      this.ctx.log.warn(`${this.name}: version ${short(run.version.hash)} failed: ${outcome.reason}`);
      return { action: 'failed', reason: outcome.reason, replica: outcome.replica?.id, logTail };
    }
    // Switch: the new replicas take every new request from now on; the old ones drain.
    const old = this.current;
    this.current = run;
    run.supervised = true;
    if (this.next?.run === run) this.next = undefined;
    this.record.version = run.version;
    this.record.liveSince = new Date().toISOString();
    delete this.record.failure;
    this.ctx.persist();
    this.ctx.changed();
    this.ctx.log.info(`${this.name}: version ${short(run.version.hash)} is live`);
    if (old) this.drain(old);
    return { action: old === undefined ? 'created' : refresh ? 'refreshed' : 'updated' };
  }

  /** Stops a run's replicas in the background, letting them finish their requests. */
  private drain(run: Run): void {
    for (const r of run.replicas) {
      this.backoff.cancel(r);
      this.draining.set(r, run.version);
      // Deliberately not awaited: draining runs in the background.
      void r.stop().finally(() => {
        this.draining.delete(r);
        this.ctx.forget(r.id);
        this.removeFiles(r);
        this.ctx.changed();
        if (this.draining.size === 0) this.ctx.dropped();
      });
    }
  }

  private cancel(run: Run): void {
    run.cancelled = true;
    run.waiter?.(run.replicas[0]);
    void this.stopRun(run, true).then(() => this.ctx.dropped());
  }

  private async stopRun(run: Run, force: boolean): Promise<void> {
    await Promise.all(
      run.replicas.map(async (r) => {
        this.backoff.cancel(r);
        await (force ? r.kill() : r.stop());
        this.ctx.forget(r.id);
        this.removeFiles(r);
      }),
    );
  }

  /** Stops everything (gracefully) and forgets the API. */
  async delete(): Promise<void> {
    this.deleted = true;
    if (this.next) {
      this.next.run.cancelled = true;
      this.next.run.waiter?.(this.next.run.replicas[0]);
    }
    const runs = [this.current, this.next?.run].filter((r): r is Run => r !== undefined);
    this.current = undefined;
    this.next = undefined;
    this.ctx.changed();
    await Promise.all([
      ...runs.map((run) => this.stopRun(run, run.cancelled)),
      ...[...this.draining.keys()].map((r) => r.stop()),
    ]);
    const logs = path.join(this.ctx.layout.logs, this.name);
    if (isInside(this.ctx.layout.logs, logs)) rmSync(logs, { recursive: true, force: true });
  }

  /** Ends every process at once (the supervisor is going away; state stays). */
  async shutdown(): Promise<void> {
    this.deleted = true;
    const replicas = [...(this.current?.replicas ?? []), ...(this.next?.run.replicas ?? []), ...this.draining.keys()];
    for (const r of replicas) this.backoff.cancel(r);
    await Promise.all(replicas.map((r) => r.stop()));
  }

  private newRun(version: VersionRecord, supervised: boolean, ids: string[] = []): Run {
    const run: Run = { version, replicas: [], supervised, cancelled: false };
    const count = requestedReplicas(version);
    for (let i = 0; i < count; i++) {
      const id = ids[i] ?? `${this.name}-${randomBytes(3).toString('hex').slice(0, 5)}`;
      const replica = new ReplicaProcess({
        api: this.name,
        id,
        configFile: version.configFile,
        env: { ...this.ctx.baseEnv, ...version.env },
        logFile: path.join(this.ctx.layout.logs, this.name, `${id}.log`),
        terminationFile: path.join(this.ctx.layout.run, `${id}.termination`),
        gracePeriodS: this.ctx.gracePeriodS,
        ...(isPodApi(version.spec) ? { pod: { port: version.spec.pod.port, home: this.ctx.layout.home } } : {}),
      });
      replica.onReady = () => {
        writeReplicaRecord(this.ctx.layout, this.name, replica, version.hash);
        this.ctx.changed();
        run.waiter?.(replica);
      };
      replica.onExit = (info) => this.exited(run, replica, info);
      run.replicas.push(replica);
    }
    return run;
  }

  private exited(run: Run, replica: ReplicaProcess, info: ExitInfo): void {
    this.ctx.changed();
    if (info.expected || run.cancelled || this.deleted) return;
    this.ctx.log.warn(`${this.name}: replica ${replica.id} ${info.reason}`, {
      replica: replica.id,
      code: info.code,
      signal: info.signal,
    });
    if (run.waiter) return run.waiter(replica, info);
    if (!run.supervised || this.current !== run) return;
    // A serving replica crashed: start it again, waiting longer after each failure in a row.
    replica.state = 'restarting';
    this.backoff.schedule(replica, () => {
      if (this.deleted || this.current !== run) return;
      replica.restarts++;
      replica.start();
      this.ctx.changed();
    });
  }

  private removeFiles(replica: ReplicaProcess): void {
    rmSync(replica.options.logFile, { force: true });
    rmSync(replica.options.terminationFile, { force: true });
    rmSync(replicaRecordFile(this.ctx.layout, replica.id), { force: true });
  }

  /** The runner's state as api-status.ts derives the status from it. */
  private view(): RunnerView {
    return {
      name: this.name,
      endpoint: this.endpoint,
      record: this.record,
      current: this.current,
      next: this.next?.run,
      draining: this.draining,
      deleted: this.deleted,
    };
  }

  /** Why no replica takes requests, as clients may read it (see api-status.ts). */
  publicReason(): string {
    return publicReason(this.view());
  }

  status(): ApiStatus {
    return apiStatus(this.view());
  }
}

/** The DeployRequest as the record a run keeps. */
export function versionOf(request: DeployRequest): VersionRecord {
  return {
    hash: request.hash,
    snapshot: request.snapshot,
    configFile: request.configFile,
    spec: request.spec,
    env: request.env,
    source: request.source,
    deployedAt: new Date().toISOString(),
  };
}
