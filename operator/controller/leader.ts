// Leader election on a coordination.k8s.io/v1 Lease (client-go's leaderelection, small):
// - a candidate reads the Lease; it takes it when nobody holds it, when the holder released it
//   (empty holderIdentity), or when the record has not changed for leaseDurationSeconds as
//   measured on the candidate's own clock (clocks of different machines are never compared);
// - every write is an update carrying the resourceVersion that was read (optimistic
//   concurrency): 409 Conflict means another candidate won the race;
// - the leader renews every retryPeriod; when it has not renewed successfully for
//   renewDeadline (< leaseDuration, so it stops before anyone else may take over), or it sees
//   another holder, it has lost: onStoppedLeading (the operator stops and exits);
// - times are meta/v1 MicroTime strings (RFC 3339 with microseconds), never Date objects;
// - release() on a graceful stop clears holderIdentity so a standby takes over at once.

import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { KubeError, isNotFound, type KubeClient, type KubeObject } from '../kube/client.ts';
import { LEASES } from '../kube/resources.ts';
import type { Logger } from '../util/log.ts';
import { ruleOn, type PolicyRule } from '../reconcilers/types.ts';
import { errorMessage } from '../util/errors.ts';
import { sleep } from './backoff.ts';
import { HttpMethod } from '@kubernetes/client-node';
import { resourcePath } from '../kube/client.ts';

/** The Lease lives in the operator's namespace. */
export const leaderElectionRbac: PolicyRule[] = [
  ruleOn(LEASES, ['get', 'create', 'update'], { scope: 'operator-namespace' }),
];

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

type Lease = KubeObject & { spec?: LeaseSpec };

/** meta/v1 MicroTime: RFC 3339 with exactly six fractional digits, UTC. */
export function microTime(date: Date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function defaultIdentity(): string {
  return `${hostname()}_${randomUUID()}`;
}

export interface LeaderElectorOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  log: Logger;
  /** Clock (tests). */
  now?: () => number;
}

export class LeaderElector {
  readonly identity: string;
  private readonly o: Required<Omit<LeaderElectorOptions, 'identity'>>;
  private observed: { record: string; at: number } | undefined;
  private lease: Lease | undefined;
  private leading = false;
  private readonly stopper = new AbortController();

  constructor(options: LeaderElectorOptions) {
    this.identity = options.identity ?? defaultIdentity();
    this.o = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      now: Date.now,
      ...options,
    } as Required<Omit<LeaderElectorOptions, 'identity'>>;
    if (this.o.renewDeadlineMs >= this.o.leaseDurationMs)
      throw new Error('the renew deadline must be shorter than the lease duration');
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until this process holds the Lease (resolves true), or stop() (resolves false);
   * then keeps renewing in the background and calls onStoppedLeading once if it is lost.
   */
  async run(onStoppedLeading: (why: string) => void): Promise<boolean> {
    const signal = this.stopper.signal;
    this.o.log.info('leader election: waiting for the lease', {
      lease: `${this.o.namespace}/${this.o.name}`,
      identity: this.identity,
    });
    while (!signal.aborted) {
      try {
        if (await this.tryAcquireOrRenew()) break;
      } catch (error) {
        this.o.log.warn('leader election: cannot read or take the lease, retrying', { error: errorMessage(error) });
      }
      await sleep(this.o.retryPeriodMs * (1 + 0.2 * Math.random()), signal);
    }
    if (signal.aborted) return false;
    this.leading = true;
    this.o.log.info('leader election: became the leader', {
      lease: `${this.o.namespace}/${this.o.name}`,
      identity: this.identity,
    });
    void this.renewLoop(onStoppedLeading);
    return true;
  }

  private async renewLoop(onStoppedLeading: (why: string) => void): Promise<void> {
    const signal = this.stopper.signal;
    let lastRenew = this.o.now();
    while (!signal.aborted) {
      await sleep(this.o.retryPeriodMs, signal);
      if (signal.aborted) return;
      let ok = false;
      let why = 'the lease could not be renewed';
      try {
        ok = await this.tryAcquireOrRenew();
        if (!ok) why = `the lease is held by ${this.lease?.spec?.holderIdentity ?? 'another candidate'}`;
      } catch (error) {
        why = errorMessage(error);
      }
      if (ok) {
        lastRenew = this.o.now();
        continue;
      }
      // another holder: lost at once; errors: retried until the renew deadline
      if (this.lease?.spec?.holderIdentity && this.lease.spec.holderIdentity !== this.identity)
        return this.lost(onStoppedLeading, why);
      if (this.o.now() - lastRenew >= this.o.renewDeadlineMs)
        return this.lost(onStoppedLeading, `not renewed within ${this.o.renewDeadlineMs} ms: ${why}`);
      this.o.log.warn('leader election: renew failed, retrying', { error: why });
    }
  }

  private lost(onStoppedLeading: (why: string) => void, why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.o.log.error('leader election: lost the lease', { lease: `${this.o.namespace}/${this.o.name}`, reason: why });
    onStoppedLeading(why);
  }

  /** One attempt: true when this process holds the lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { client, namespace, name } = this.o;
    const now = this.o.now();
    const durationSeconds = Math.max(1, Math.round(this.o.leaseDurationMs / 1000));
    // a hung request must not outlast the renew deadline; release() aborts one in flight
    const request = { signal: this.stopper.signal, timeoutMs: this.o.renewDeadlineMs };
    let current: Lease | undefined;
    try {
      current = await client.get<Lease>(LEASES, namespace, name, request);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    if (!current) {
      const spec: LeaseSpec = {
        holderIdentity: this.identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: microTime(new Date(now)),
        renewTime: microTime(new Date(now)),
        leaseTransitions: 0,
      };
      try {
        this.lease = await client.create<Lease>(
          LEASES,
          { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec },
          'cortex-operator',
          request,
        );
      } catch (error) {
        if (error instanceof KubeError && error.code === 409) return false; // created by another candidate meanwhile
        throw error;
      }
      this.observe(this.lease, now);
      return true;
    }
    this.lease = current;
    this.observe(current, now);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const mine = holder === this.identity;
    if (!mine && holder !== '') {
      const duration = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (this.observed && this.observed.at + duration > now) return false; // held, and renewed within its duration
    }
    const next: LeaseSpec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: mine ? (spec.acquireTime ?? microTime(new Date(now))) : microTime(new Date(now)),
      renewTime: microTime(new Date(now)),
      leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
    };
    try {
      // PUT with the resourceVersion read above: 409 when anyone wrote the Lease meanwhile
      this.lease = await client.request<Lease>(HttpMethod.PUT, resourcePath(LEASES, namespace, name), {
        body: { ...current, spec: next },
        ...request,
      });
    } catch (error) {
      if (error instanceof KubeError && error.code === 409) return false;
      throw error;
    }
    this.observe(this.lease, now);
    return true;
  }

  private observe(lease: Lease, now: number): void {
    const record = JSON.stringify(lease.spec ?? {});
    if (this.observed?.record !== record) this.observed = { record, at: now };
  }

  /** Stops campaigning and renewing; the leader gives the Lease up so a standby takes over at once. */
  async release(): Promise<void> {
    this.stopper.abort();
    if (!this.leading || !this.lease) return;
    this.leading = false;
    try {
      const { client, namespace, name } = this.o;
      const current = await client.get<Lease>(LEASES, namespace, name);
      if (current.spec?.holderIdentity !== this.identity) return;
      const now = microTime();
      await client.request(HttpMethod.PUT, resourcePath(LEASES, namespace, name), {
        body: {
          ...current,
          spec: { ...current.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
        },
      });
      this.o.log.info('leader election: released the lease', { lease: `${namespace}/${name}` });
    } catch (error) {
      this.o.log.warn('leader election: cannot release the lease', { error: errorMessage(error) });
    }
  }
}
