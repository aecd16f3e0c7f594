// The wake-up of an API at zero, shared by every request the activator holds for it: one scale-up
// (retried every 2 s while it fails), then the running replicas probed until one is ready. It
// lasts while anyone waits; a request that joins after it ended starts another. The HTTP side
// (what is held, for how long, what is answered) is activator.ts.

import type { Counter, Histogram } from 'prom-client';
import { errorMessage } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { RUNTIME_PORT } from '../reconcilers/deployment.ts';
import { PROXY_PROBE_HEADER as PROBE_HEADER } from '../api/v1alpha1/pod-types.ts';
import type { Backend } from './activator.ts';

/** How often a waking API's running replicas are asked whether they are ready. */
const READY_POLL_MS = 50;

/** The deadline passed; the message is why the wake-up is not done, beyond the API's status ('' when unknown). */
export class HoldTimeout extends Error {}
/** The held request's client left. */
export class ClientGone extends Error {}

export interface WakeOptions {
  backend: Backend;
  log: Logger;
  /** The replicas' port. Default 8888 (cortex serve). */
  replicaPort?: number;
  /** Check a replica's /readyz before sending it the held requests. Default true. */
  confirmReady?: boolean;
}

/** The activator's metrics that wake-ups count. */
export interface WakeMetrics {
  wakes: Counter;
  coldStart: Histogram;
}

interface Wake {
  startedAt: number;
  waiters: number;
  /** Why the wake-up is not done yet, beyond what the API's status says. */
  problem?: string;
  /** A confirmed-ready replica, or undefined when nobody waited any longer. */
  done: Promise<string | undefined>;
}

/** The APIs being woken, by namespace/name. */
export class Wakes {
  private readonly wakes = new Map<string, Wake>();
  private readonly o: WakeOptions;
  private readonly metrics: WakeMetrics;

  constructor(options: WakeOptions, metrics: WakeMetrics) {
    this.o = options;
    this.metrics = metrics;
  }

  /** Joins (or starts) the API's wake-up and waits for its replica, the deadline or the client's leaving. */
  async awaitReplica(namespace: string, name: string, deadline: number, gone: AbortSignal): Promise<string> {
    const key = `${namespace}/${name}`;
    for (;;) {
      let wake = this.wakes.get(key);
      if (!wake) {
        wake = this.startWake(namespace, name);
        this.wakes.set(key, wake);
      }
      const w = wake;
      w.waiters++;
      let timer: NodeJS.Timeout | undefined;
      let onGone: (() => void) | undefined;
      try {
        const ip = await Promise.race([
          w.done,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new HoldTimeout(w.problem ?? '')), Math.max(0, deadline - Date.now()));
          }),
          new Promise<never>((_, reject) => {
            onGone = () => reject(new ClientGone());
            if (gone.aborted) onGone();
            else gone.addEventListener('abort', onGone, { once: true });
          }),
        ]);
        if (ip !== undefined) return ip;
        // that wake-up ended as this request joined it: start another
      } finally {
        clearTimeout(timer);
        if (onGone) gone.removeEventListener('abort', onGone);
        w.waiters--;
      }
    }
  }

  private startWake(namespace: string, name: string): Wake {
    const key = `${namespace}/${name}`;
    const w: Wake = { startedAt: Date.now(), waiters: 0, done: Promise.resolve(undefined) };
    w.done = (async () => {
      let changed: (() => void) | undefined;
      const unsubscribe = this.o.backend.watch(namespace, name, () => changed?.());
      let scaled: { from: number; to: number } | undefined;
      let tried = 0;
      try {
        // waiters join right after this starts; it runs while anyone waits
        await Promise.resolve();
        while (w.waiters > 0) {
          if (!scaled && Date.now() - tried >= 2000) {
            tried = Date.now();
            try {
              scaled = await this.o.backend.wake(namespace, name);
              w.problem = undefined;
              if (scaled.to > scaled.from) {
                this.metrics.wakes.inc();
                this.o.log.info('activator: waking the API', { api: key, replicas: scaled.to });
              }
            } catch (error) {
              w.problem = `could not scale it up: ${errorMessage(error)}`;
              this.o.log.warn('activator: could not scale the API up; retrying', {
                api: key,
                error: errorMessage(error),
              });
            }
          }
          // probed directly rather than waiting for the kubelet's next readiness probe (every 5 s)
          for (const ip of this.o.backend.runningReplicas(namespace, name)) {
            if (await this.confirm(ip)) {
              const took = (Date.now() - w.startedAt) / 1000;
              if (scaled && scaled.to > scaled.from) {
                this.metrics.coldStart.observe(took);
                this.o.log.info('activator: the API is ready; passing on the held requests', {
                  api: key,
                  coldStartSeconds: took,
                  held: w.waiters,
                });
              }
              return ip;
            }
          }
          // look again when its pods change, or in a moment (a /readyz that did not answer yet):
          // a short moment, since a waking replica's readiness is the request's wait (a refused
          // or 503 /readyz costs the replica next to nothing, and only while requests are held)
          await new Promise<void>((resolve) => {
            changed = resolve;
            setTimeout(resolve, READY_POLL_MS).unref();
          });
        }
        return undefined;
      } finally {
        unsubscribe();
        if (this.wakes.get(key) === w) this.wakes.delete(key);
      }
    })();
    return w;
  }

  /** Whether the replica answers its readiness check (the runtime's /readyz, which the kubelet probes too). */
  private async confirm(ip: string): Promise<boolean> {
    if (this.o.confirmReady === false) return true;
    const host = ip.includes(':') ? `[${ip}]` : ip;
    try {
      const res = await fetch(`http://${host}:${this.o.replicaPort ?? RUNTIME_PORT}/readyz`, {
        signal: AbortSignal.timeout(1000),
        // a pod API's proxy answers this probe itself instead of forwarding it (runtime/proxy.ts)
        headers: { [PROBE_HEADER]: 'readiness' },
      });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }
}
