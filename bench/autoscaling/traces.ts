// Deterministic load traces for the autoscaling simulation: arrivals per second as a function of
// time (no randomness: every run prints the same figures). Every request takes the same service
// time, and a replica runs targetReplicaConcurrency of them at once, so a load of λ requests/s
// needs ⌈λ · serviceTime / concurrency⌉ replicas.

import type { RealtimeApiSpecInput } from '../../operator/api/v1alpha1/index.ts';

export interface Trace {
  name: string;
  /** One line for the report. */
  description: string;
  durationSeconds: number;
  /** Requests arriving during second t (may be fractional: a fluid model). */
  arrivals(t: number): number;
  /** Autoscaling fields beyond Cortex's defaults (e.g. minReplicas 0 for scale to zero). */
  autoscaling?: RealtimeApiSpecInput['autoscaling'];
}

/** Seconds each request takes on a replica. */
export const SERVICE_TIME_SECONDS = 0.25;

const MIN = 60;

/** Linear from `a` at `t0` to `b` at `t1`. */
function lerp(t: number, t0: number, t1: number, a: number, b: number): number {
  return a + ((b - a) * (t - t0)) / (t1 - t0);
}

export const TRACES: Trace[] = [
  {
    name: 'ramp',
    description: '8 req/s, up to 80 over 30 min, 10 min flat, down to 8 over 20 min',
    durationSeconds: 90 * MIN,
    arrivals: (t) => {
      if (t < 10 * MIN) return 8;
      if (t < 40 * MIN) return lerp(t, 10 * MIN, 40 * MIN, 8, 80);
      if (t < 50 * MIN) return 80;
      if (t < 70 * MIN) return lerp(t, 50 * MIN, 70 * MIN, 80, 8);
      return 8;
    },
  },
  {
    name: 'spike',
    description: '20 req/s, a jump to 100 for 5 min at minute 10, then 20 again',
    durationSeconds: 40 * MIN,
    arrivals: (t) => (t >= 10 * MIN && t < 15 * MIN ? 100 : 20),
  },
  {
    name: 'diurnal',
    description: 'a day compressed into 2 h: 10 → 80 → 10 req/s, with a 7-minute ripple of ±6',
    durationSeconds: 120 * MIN,
    arrivals: (t) =>
      10 + 35 * (1 - Math.cos((2 * Math.PI * t) / (120 * MIN))) + 6 * Math.sin((2 * Math.PI * t) / (7 * MIN)),
  },
  {
    name: 'idle',
    description: 'minReplicas 0: 12 req/s for 10 min, 2 req/s at minute 30 for 2 min, 1 request at 45',
    durationSeconds: 50 * MIN,
    autoscaling: { minReplicas: 0 },
    arrivals: (t) => {
      if (t < 10 * MIN) return 12;
      if (t >= 30 * MIN && t < 32 * MIN) return 2;
      if (t === 45 * MIN) return 1;
      return 0;
    },
  },
];
