// The two policies the simulation compares, each called once a simulated second:
// - ours: the HPA the operator generates (desiredHpa / behaviorOf from operator/reconcilers/hpa.ts,
//   so the shipped mapping is what runs), synced every 15 s by the HPA controller's maths
//   (hpa.ts) on the per-pod metric our adapter serves (in-flight requests
//   averaged over `window`); plus, for minReplicas 0, scale to zero after scale_to_zero_after and
//   the activator's wake on the first request (operator/autoscaling/scale-to-zero.ts).
// - cortex: Cortex's own autoscaler (cortex.ts) every 10 s on the API-wide
//   average, with its activator's Awaken for minReplicas 0.

import { cortexAwaken, cortexParamsOf, cortexTick, CORTEX_TICK_SECONDS, initialCortexState } from './cortex.ts';
import { hpaModelSpecOf, hpaSync, initialHpaState, type HpaControllerFlags } from './hpa.ts';
import {
  initialScaleToZeroState,
  observeActivity,
  scaleToZeroDecision,
  wakeOnRequest,
} from '../../operator/autoscaling/scale-to-zero.ts';
import { parseDurationMs } from '../../operator/api/v1alpha1/index.ts';
import { desiredHpa } from '../../operator/reconcilers/hpa.ts';
import type { ApiInstance, ChildConfig } from '../../operator/reconcilers/types.ts';
import type { View } from './world.ts';

export interface Policy {
  /** Replicas wanted at the end of this second (the current count when nothing changes). */
  step(v: View): number;
}

export interface OursOptions {
  flags: HpaControllerFlags;
  hpaSyncSeconds: number;
  /** How often the operator checks for idleness (the wake itself is immediate). */
  scaleToZeroCheckSeconds: number;
  /** Replaces the generated policies' periodSeconds (to compare another mapping). */
  policyPeriods?: { up: number; down: number };
}

/** The operator's settings that shape the HPA; tolerance on unless the cluster lacks it. */
export function childConfig(hpaTolerance: boolean): ChildConfig {
  return {
    runtimeImage: 'cortex/runtime:sim',
    hpaTolerance,
    clusterDomain: 'cluster.local',
    placement: { pools: [], tolerations: [] },
  };
}

export function oursPolicy(api: ApiInstance, o: OursOptions): Policy {
  const spec = hpaModelSpecOf(desiredHpa(api, childConfig(o.flags.configurableTolerance)));
  if (o.policyPeriods) {
    const { up, down } = o.policyPeriods;
    spec.scaleUp.policies = spec.scaleUp.policies.map((p) => ({ ...p, periodSeconds: up }));
    spec.scaleDown.policies = spec.scaleDown.policies.map((p) => ({ ...p, periodSeconds: down }));
  }
  const windowSeconds = cortexParamsOf(api.spec.autoscaling).windowSeconds;
  const toZero = api.spec.autoscaling.minReplicas === 0;
  const scaleToZeroAfterSeconds = parseDurationMs(api.spec.autoscaling.scaleToZeroAfter) / 1000;
  let hpa = initialHpaState();
  let idle = initialScaleToZeroState();
  return {
    step(v) {
      if (toZero) {
        idle = observeActivity(idle, { at: v.t, requests: v.arrivals, inFlight: v.inFlight });
        if (v.replicas === 0 && v.arrivals > 0) {
          const woken = wakeOnRequest(idle, v.t, 0);
          idle = woken.state;
          return woken.replicas;
        }
        if (v.t % o.scaleToZeroCheckSeconds === 0) {
          const d = scaleToZeroDecision(idle, {
            now: v.t,
            currentReplicas: v.replicas,
            minReplicas: 0,
            scaleToZeroAfterSeconds,
          });
          idle = d.state;
          if (d.decision.action === 'scale-to-zero') return 0;
        }
      }
      if (v.t % o.hpaSyncSeconds !== 0) return v.replicas;
      const r = hpaSync(spec, o.flags, hpa, { now: v.t, specReplicas: v.replicas, pods: v.podMetrics(windowSeconds) });
      hpa = r.state;
      return r.desiredReplicas;
    },
  };
}

export function cortexPolicy(api: ApiInstance): Policy {
  const p = cortexParamsOf(api.spec.autoscaling);
  let state = initialCortexState();
  return {
    step(v) {
      if (p.minReplicas === 0 && v.replicas === 0 && v.arrivals > 0) {
        const woken = cortexAwaken(state, v.t, 0);
        state = woken.state;
        return woken.request;
      }
      if (v.t % CORTEX_TICK_SECONDS !== 0) return v.replicas;
      const tick = cortexTick(p, state, {
        now: v.t,
        currentReplicas: v.replicas,
        avgInFlight: v.apiAverage(p.windowSeconds),
      });
      state = tick.state;
      return tick.request;
    },
  };
}
