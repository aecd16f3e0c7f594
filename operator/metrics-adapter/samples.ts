// What the adapter remembers of each replica: the samples of its /metrics taken about once a
// second, kept for the API's autoscaling.window, and per API when a request was last seen.
//
// The served value is the mean of a pod's samples within the window. Samples are taken at a
// steady rate, so the plain mean is the time average Cortex's autoscaler used; a pod younger
// than the window is averaged over the samples it has (windowSeconds says how long that is).

export interface Sample {
  /** When it was taken (ms since the epoch). */
  at: number;
  inFlight: number;
  /** cortex_requests_total summed over status codes: only its increases matter. */
  requestsTotal: number;
  /** Models whose new version failed to download or load (cortex_model_reload_failing), sorted. */
  reloadFailing?: string[];
}

export interface WindowAverage {
  value: number;
  /** When the newest sample in the window was taken (ms since the epoch). */
  timestamp: number;
  /** The time the samples span, at least 1 s, at most the window. */
  windowSeconds: number;
  samples: number;
}

/** One pod's samples, oldest first. */
class PodSeries {
  readonly api: string;
  private samples: Sample[] = [];

  constructor(api: string) {
    this.api = api;
  }

  /** Appends a sample (an older or same-time one is ignored) and drops those older than retainMs before it. */
  add(sample: Sample, retainMs: number): Sample | undefined {
    const previous = this.samples.at(-1);
    if (previous !== undefined && sample.at <= previous.at) return previous;
    this.samples.push(sample);
    const oldest = sample.at - retainMs;
    let drop = 0;
    while (drop < this.samples.length - 1 && this.samples[drop].at < oldest) drop++;
    if (drop > 0) this.samples.splice(0, drop);
    return previous;
  }

  average(windowMs: number, now: number): WindowAverage | undefined {
    const from = now - windowMs;
    let sum = 0;
    let n = 0;
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    for (const s of this.samples) {
      if (s.at < from || s.at > now) continue;
      sum += s.inFlight;
      n++;
      first = Math.min(first, s.at);
      last = Math.max(last, s.at);
    }
    if (n === 0) return undefined;
    const span = Math.ceil((last - first) / 1000);
    return {
      value: sum / n,
      timestamp: last,
      windowSeconds: Math.min(Math.max(1, span), Math.ceil(windowMs / 1000)),
      samples: n,
    };
  }

  last(): Sample | undefined {
    return this.samples.at(-1);
  }
}

/** What scale to zero reads: whether an API served requests lately. */
export interface ApiActivity {
  /**
   * The last time a request was seen (a counter went up, or one was in flight); undefined: none
   * since observedSince.
   */
  lastRequestAt?: Date;
  /** When this process started watching the API: nothing before it is known. */
  observedSince: Date;
  /** Sums over the pods scraped at least once and still present. */
  inFlight: number;
  requestsTotal: number;
  pods: { name: string; inFlight: number; requestsTotal: number; at: Date; reloadFailing?: string[] }[];
}

interface ActivityRecord {
  observedSince: number;
  lastRequestAt?: number;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

export class SampleStore {
  private readonly pods = new Map<string, PodSeries>();
  private readonly apis = new Map<string, ActivityRecord>();

  /** onReloadChange: a pod's failing models changed, so its API's status is derived again. */
  private readonly onReloadChange?: (namespace: string, api: string) => void;

  constructor(onReloadChange?: (namespace: string, api: string) => void) {
    this.onReloadChange = onReloadChange;
  }

  /** Starts the activity record of an API (idempotent); recording a sample does it too. */
  track(namespace: string, api: string, now: number): void {
    if (!this.apis.has(key(namespace, api))) this.apis.set(key(namespace, api), { observedSince: now });
  }

  /** Records a scrape of `pod` (which serves `api`), keeping retainMs of samples. */
  record(namespace: string, pod: string, api: string, sample: Sample, retainMs: number): void {
    this.track(namespace, api, sample.at);
    let series = this.pods.get(key(namespace, pod));
    if (series === undefined || series.api !== api) {
      series = new PodSeries(api);
      this.pods.set(key(namespace, pod), series);
    }
    const previous = series.add(sample, retainMs);
    if ((previous?.reloadFailing ?? []).join('\n') !== (sample.reloadFailing ?? []).join('\n'))
      this.onReloadChange?.(namespace, api);
    // A request happened when the counter rose, when it restarted lower but above 0 (the
    // runtime restarted and served since), when one is in flight, or when a pod seen for the
    // first time has served already (it may have done so just now).
    const served =
      previous === undefined
        ? sample.requestsTotal > 0
        : sample.requestsTotal > previous.requestsTotal ||
          (sample.requestsTotal < previous.requestsTotal && sample.requestsTotal > 0);
    if (served || sample.inFlight > 0) {
      const record = this.apis.get(key(namespace, api))!;
      record.lastRequestAt = Math.max(record.lastRequestAt ?? 0, sample.at);
    }
  }

  /** The pod's mean in-flight requests over the last windowMs before now; undefined without samples there. */
  average(namespace: string, pod: string, windowMs: number, now: number): WindowAverage | undefined {
    return this.pods.get(key(namespace, pod))?.average(windowMs, now);
  }

  /** Whether any sample of the pod was recorded (and not forgotten). */
  has(namespace: string, pod: string): boolean {
    return this.pods.has(key(namespace, pod));
  }

  forgetPod(namespace: string, pod: string): void {
    this.pods.delete(key(namespace, pod));
  }

  /** The API was deleted: its activity and its pods' samples go. */
  forgetApi(namespace: string, api: string): void {
    this.apis.delete(key(namespace, api));
    for (const [k, series] of this.pods) if (series.api === api && k.startsWith(`${namespace}/`)) this.pods.delete(k);
  }

  activity(namespace: string, api: string): ApiActivity | undefined {
    const record = this.apis.get(key(namespace, api));
    if (record === undefined) return undefined;
    const pods: ApiActivity['pods'] = [];
    for (const [k, series] of this.pods) {
      const last = series.last();
      if (series.api !== api || !k.startsWith(`${namespace}/`) || last === undefined) continue;
      pods.push({
        name: k.slice(namespace.length + 1),
        inFlight: last.inFlight,
        requestsTotal: last.requestsTotal,
        at: new Date(last.at),
        reloadFailing: last.reloadFailing ?? [],
      });
    }
    pods.sort((a, b) => a.name.localeCompare(b.name));
    return {
      lastRequestAt: record.lastRequestAt !== undefined ? new Date(record.lastRequestAt) : undefined,
      observedSince: new Date(record.observedSince),
      inFlight: pods.reduce((s, p) => s + p.inFlight, 0),
      requestsTotal: pods.reduce((s, p) => s + p.requestsTotal, 0),
      pods,
    };
  }
}

/** How long an API has served nothing, counting from when observation began if it never did. */
export function idleForMs(activity: ApiActivity, now: number): number {
  return Math.max(0, now - (activity.lastRequestAt ?? activity.observedSince).getTime());
}
