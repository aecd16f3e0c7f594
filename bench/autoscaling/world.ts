// The simulated API for the autoscaling simulation: its pods (each ready `coldStart` seconds after
// it is created), a fluid queueing model, the samples a metrics pipeline would take every second,
// and the bookkeeping of what each policy cost. One step is one second.
//
// Queueing: a ready replica runs `concurrency` requests at once, each taking `serviceTime`, so
// the ready replicas start at most C = ready · concurrency / serviceTime requests a second.
// Arrivals join a backlog; min(backlog + arrivals, C) start; the rest wait. The in-flight count a
// replica reports (what both autoscalers scale on) is the requests executing (started ·
// serviceTime, Little's law) plus the ones waiting, shared evenly by the ready replicas. A replica
// admits at most maxReplicaConcurrency of them; beyond that it answers 503 (rejected). With no
// ready replica the requests wait in front (the activator holds them) and no pod reports.
//
// Accounting, per second: needed = ⌈arrivals · serviceTime / concurrency⌉ replicas;
// over-provisioned = replicas (starting ones included: they are paid for) beyond needed;
// under-provisioned = needed beyond the ready replicas; queued = requests waiting.

import type { PodMetric } from './hpa.ts';
import { pruneSamples, windowAverage, type Sample } from './window.ts';

export interface WorldOptions {
  serviceTimeSeconds: number;
  /** Requests one replica runs at once (processes × threads = targetReplicaConcurrency by default). */
  concurrency: number;
  /** Requests one replica admits (executing + waiting) before answering 503. */
  maxReplicaConcurrency: number;
  coldStartSeconds: number;
  /** How much history the metrics keep (the longest window anyone averages over). */
  windowSeconds: number;
}

interface Pod {
  name: string;
  /** Creation order. */
  seq: number;
  readyAt: number;
  /** This pod's in-flight requests, one sample a second while ready. */
  samples: Sample[];
}

export interface Totals {
  replicaSeconds: number;
  overProvisioned: number;
  underProvisioned: number;
  queuedRequestSeconds: number;
  /** Requests answered 503 because every ready replica held maxReplicaConcurrency. */
  rejected: number;
  scaleChanges: number;
  peakReplicas: number;
}

/** What a policy sees each second. */
export interface View {
  t: number;
  /** The Deployment's replicas (pods, ready or starting). */
  replicas: number;
  /** Requests that arrived this second. */
  arrivals: number;
  /** Requests executing or waiting (at the replicas, or in front when none is ready). */
  inFlight: number;
  /** The API-wide in-flight total averaged over `windowSeconds` (Cortex's query); undefined: no data. */
  apiAverage(windowSeconds: number): number | undefined;
  /** What our metrics adapter serves for each pod: its in-flight requests averaged over the window. */
  podMetrics(windowSeconds: number): PodMetric[];
}

export function neededReplicas(arrivals: number, o: Pick<WorldOptions, 'serviceTimeSeconds' | 'concurrency'>): number {
  return Math.max(0, Math.ceil((arrivals * o.serviceTimeSeconds) / o.concurrency - 1e-9));
}

export class World {
  readonly o: WorldOptions;
  private pods: Pod[] = [];
  private nextPod = 0;
  private backlog = 0;
  private totalSamples: Sample[] = [];
  readonly totals: Totals = {
    replicaSeconds: 0,
    overProvisioned: 0,
    underProvisioned: 0,
    queuedRequestSeconds: 0,
    rejected: 0,
    scaleChanges: 0,
    peakReplicas: 0,
  };
  /** Replicas (pods) during each second. */
  readonly replicaCurve: number[] = [];

  constructor(o: WorldOptions, initialReplicas: number) {
    this.o = o;
    for (let i = 0; i < initialReplicas; i++) this.addPod(0);
  }

  private addPod(readyAt: number): void {
    const seq = this.nextPod++;
    this.pods.push({ name: `pod-${seq}`, seq, readyAt, samples: [] });
  }

  /** Runs second t with `arrivals` requests; returns what a policy sees at its end. */
  step(t: number, arrivals: number): View {
    const o = this.o;
    const ready = this.pods.filter((p) => p.readyAt <= t);
    let executing = 0;
    if (ready.length > 0) {
      const capacity = (ready.length * o.concurrency) / o.serviceTimeSeconds;
      const started = Math.min(this.backlog + arrivals, capacity);
      this.backlog = this.backlog + arrivals - started;
      executing = started * o.serviceTimeSeconds;
      const excess = executing + this.backlog - ready.length * o.maxReplicaConcurrency;
      if (excess > 0) {
        this.backlog -= excess;
        this.totals.rejected += excess;
      }
    } else {
      this.backlog += arrivals;
    }
    const inFlight = executing + this.backlog;
    if (ready.length > 0) {
      this.totalSamples.push({ at: t, value: inFlight });
      for (const p of ready) p.samples.push({ at: t, value: inFlight / ready.length });
    }
    if (t % 60 === 0) {
      this.totalSamples = pruneSamples(this.totalSamples, t, o.windowSeconds);
      for (const p of this.pods) p.samples = pruneSamples(p.samples, t, o.windowSeconds);
    }

    const needed = neededReplicas(arrivals, o);
    const n = this.pods.length;
    this.totals.replicaSeconds += n;
    this.totals.overProvisioned += Math.max(0, n - needed);
    this.totals.underProvisioned += Math.max(0, needed - ready.length);
    this.totals.queuedRequestSeconds += this.backlog;
    this.totals.peakReplicas = Math.max(this.totals.peakReplicas, n);
    this.replicaCurve.push(n);

    // Snapshots: the policy may scale before it reads them.
    const pods = [...this.pods];
    const totalSamples = this.totalSamples;
    return {
      t,
      replicas: n,
      arrivals,
      inFlight,
      apiAverage: (w) => windowAverage(totalSamples, t, w),
      podMetrics: (w) =>
        pods.map((p): PodMetric => {
          // A starting pod is Running but not serving: the adapter has no value for it.
          const avg = p.readyAt <= t ? windowAverage(p.samples, t, w) : undefined;
          return { name: p.name, phase: 'Running', milli: avg === undefined ? undefined : Math.round(avg * 1000) };
        }),
    };
  }

  /** The Deployment set to `replicas` at the end of second t: new pods are ready coldStart later. */
  scaleTo(t: number, replicas: number): void {
    const n = this.pods.length;
    if (replicas === n) return;
    this.totals.scaleChanges++;
    if (replicas > n) {
      for (let i = n; i < replicas; i++) this.addPod(t + this.o.coldStartSeconds);
      return;
    }
    // The ReplicaSet controller removes pods that are not ready first, then the newest.
    const order = [...this.pods].sort(
      (a, b) => Number(a.readyAt <= t) - Number(b.readyAt <= t) || b.readyAt - a.readyAt || b.seq - a.seq,
    );
    const remove = new Set(order.slice(0, n - replicas));
    this.pods = this.pods.filter((p) => !remove.has(p));
  }
}
