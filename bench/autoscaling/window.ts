// The averaging both autoscalers start from: a metric sampled about once a second, averaged over
// `autoscaling.window`. Cortex averaged the API-wide in-flight total this way (Prometheus
// sum_over_time / count_over_time over the window); our metrics adapter serves each pod's
// in-flight requests averaged the same way, for the HPA to read.
//
// Times are seconds (any origin); a sample belongs to the window ending at `now` when
// now − window < at ≤ now, so a 60 s window of 1 s samples holds 60 of them.

export interface Sample {
  /** When it was taken, in seconds. */
  at: number;
  value: number;
}

/** Mean of the samples in (now − windowSeconds, now]; undefined when there are none (no data). */
export function windowAverage(samples: readonly Sample[], now: number, windowSeconds: number): number | undefined {
  let sum = 0;
  let count = 0;
  for (const s of samples) {
    if (s.at > now - windowSeconds && s.at <= now) {
      sum += s.value;
      count++;
    }
  }
  return count === 0 ? undefined : sum / count;
}

/** The samples still needed for a window ending at `now` or later (older ones dropped). */
export function pruneSamples<T extends Sample>(samples: readonly T[], now: number, windowSeconds: number): T[] {
  return samples.filter((s) => s.at > now - windowSeconds);
}
