// The scale-to-zero loop (leader only): every couple of seconds, for each API with
// autoscaling.minReplicas 0, fold what is known of its traffic into its ScaleToZeroState and
// let scaleToZeroDecision (operator/autoscaling/scale-to-zero.ts) say whether it goes to zero.
//
// What counts as traffic:
// - the metrics adapter's activity (operator/metrics-adapter): when a replica last served a
//   request and how many are in flight, from the replicas' /metrics scraped every second;
// - requests this process' activator holds for the API (they reach no replica yet);
// - and, when the API has replicas but none is ready and nothing is held, "idle now": nothing
//   can be serving. This keeps the data fresh for an API that was woken but cannot start
//   (compute unavailable, a crashing __init__), so it goes back to zero after
//   scaleToZeroAfter instead of keeping a replica pending forever.
// Without a fresh sample the decision is "none": an API never goes to zero on stale data.
//
// The HPA owns 1..maxReplicas; this owns 1 ↔ 0 (replicas.ts explains the write).

import { applyDefaults, parseDurationMs, validateSpec, type RealtimeApi } from '../api/v1alpha1/index.ts';
import {
  initialScaleToZeroState,
  observeActivity,
  scaleToZeroDecision,
  type ScaleToZeroState,
} from '../autoscaling/scale-to-zero.ts';
import { errorMessage } from '../util/errors.ts';
import type { EventRecorder } from '../events.ts';
import type { KubeObject } from '../kube/client.ts';
import type { Logger } from '../util/log.ts';
import type { ApiActivity } from '../metrics-adapter/samples.ts';
import { replicasOf, scaledToZeroAt, type Deployment } from './replicas.ts';

/** Per API ("namespace/name"): what the loop and the activator of this process know (shared). */
export type ScaleToZeroStates = Map<string, ScaleToZeroState>;

export type ApiObject = RealtimeApi & KubeObject;

export interface LoopOptions {
  apis: () => ApiObject[];
  /** The API's Deployment from the controller's cache. */
  deployment: (key: string) => Deployment | undefined;
  /** The metrics adapter's view of the API's traffic; undefined when it has none (or is off). */
  activity: (namespace: string, name: string) => ApiActivity | undefined;
  /** Requests this process' activator holds for the API. */
  held: (namespace: string, name: string) => number;
  /** Writes replicas (patchReplicas); undefined: the Deployment changed meanwhile. */
  scale: (deployment: Deployment, replicas: number) => Promise<Deployment | undefined>;
  states: ScaleToZeroStates;
  /** Whether a Service can send requests to the activator (it has an address); without one nothing goes to zero. */
  routable: boolean;
  log: Logger;
  events?: EventRecorder;
  /** Called after a write, so the API's status and EndpointSlice follow at once. */
  enqueue?: (key: string) => void;
  /** Default 2 s. */
  intervalMs?: number;
  /** ms since the epoch. */
  now?: () => number;
}

/** Seconds as a duration for people: 90 → "1m30s". */
export function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${s % 60 ? `${s % 60}s` : ''}` : `${s}s`;
}

/** The traffic known now, folded into the state (times in seconds). */
export function foldActivity(
  state: ScaleToZeroState,
  input: { now: number; activity?: ApiActivity; held: number; replicas: number; ready: number },
): ScaleToZeroState {
  let s = state;
  const a = input.activity;
  if (a?.lastRequestAt) s = observeActivity(s, { at: a.lastRequestAt.getTime() / 1000, requests: 1, inFlight: 0 });
  const newest = Math.max(...(a?.pods ?? []).map((p) => p.at.getTime()));
  if (Number.isFinite(newest)) s = observeActivity(s, { at: newest / 1000, requests: 0, inFlight: a?.inFlight ?? 0 });
  if (input.held > 0) s = observeActivity(s, { at: input.now, requests: 0, inFlight: input.held });
  else if (input.replicas > 0 && input.ready === 0 && (a?.inFlight ?? 0) === 0)
    s = observeActivity(s, { at: input.now, requests: 0, inFlight: 0 });
  return s;
}

export class ScaleToZeroLoop {
  private readonly o: LoopOptions;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(options: LoopOptions) {
    this.o = options;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.running ??= this.tick().finally(() => (this.running = undefined));
    }, this.o.intervalMs ?? 2000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass over every API (tests call it directly). */
  async tick(): Promise<void> {
    const seen = new Set<string>();
    for (const api of this.o.apis()) {
      const key = `${api.metadata.namespace}/${api.metadata.name}`;
      seen.add(key);
      try {
        await this.one(key, api);
      } catch (error) {
        this.o.log.warn('scale to zero: could not change the replicas', { api: key, error: errorMessage(error) });
      }
    }
    for (const key of this.o.states.keys()) if (!seen.has(key)) this.o.states.delete(key);
  }

  private async one(key: string, api: ApiObject): Promise<void> {
    const { name, namespace } = api.metadata;
    const spec = applyDefaults(name, api.spec);
    if (validateSpec(spec).length > 0) return; // the controller reports it; nothing to decide on
    const d = this.o.deployment(key);
    if (!d || d.metadata?.deletionTimestamp) return void this.o.states.delete(key);
    const current = replicasOf(d);
    const { minReplicas, scaleToZeroAfter } = spec.autoscaling;

    if (minReplicas > 0) {
      this.o.states.delete(key);
      // back from a zero this operator chose (minReplicas was raised since); a zero someone
      // else chose is theirs (the HPA's convention for "autoscaling off")
      if (current === 0 && scaledToZeroAt(d) !== undefined) {
        await this.write(
          api,
          d,
          minReplicas,
          'ScaledFromZero',
          `minReplicas is ${minReplicas}: scaled from 0 to ${minReplicas}`,
        );
      }
      return;
    }
    // without the activator's address nothing could wake an API: leave the replicas as they are
    if (!this.o.routable) return void this.o.states.delete(key);

    const now = this.now() / 1000;
    const folded = foldActivity(this.o.states.get(key) ?? initialScaleToZeroState(), {
      now,
      activity: this.o.activity(namespace, name),
      held: this.o.held(namespace, name),
      replicas: current,
      ready: d.status?.readyReplicas ?? 0,
    });
    const after = parseDurationMs(scaleToZeroAfter) / 1000;
    const { state, decision } = scaleToZeroDecision(folded, {
      now,
      currentReplicas: current,
      minReplicas,
      scaleToZeroAfterSeconds: after,
    });
    if (decision.action === 'none') {
      this.o.states.set(key, state);
      return;
    }
    const [to, reason, message] =
      decision.action === 'scale-to-zero'
        ? [
            0,
            'ScaledToZero',
            `no request for ${formatSeconds(decision.idleSeconds)} (scaleToZeroAfter ${scaleToZeroAfter}): ` +
              'scaled to zero; the next request starts a replica',
          ]
        : [decision.replicas, 'ScaledFromZero', 'a request arrived while at zero: scaled from 0 to 1'];
    // the state moves on only once the write went through; a conflict decides again next tick
    if (await this.write(api, d, to, reason, message)) this.o.states.set(key, state);
  }

  private async write(
    api: ApiObject,
    d: Deployment,
    replicas: number,
    reason: string,
    message: string,
  ): Promise<boolean> {
    const key = `${api.metadata.namespace}/${api.metadata.name}`;
    const written = await this.o.scale(d, replicas);
    if (!written) {
      this.o.log.debug('scale to zero: the Deployment changed meanwhile; deciding again', { api: key });
      return false;
    }
    this.o.log.info(reason === 'ScaledToZero' ? 'scaled to zero' : 'scaled from zero', {
      api: key,
      replicas,
      detail: message,
    });
    this.o.events?.event(api, 'Normal', reason, message);
    this.o.enqueue?.(key);
    return true;
  }
}
