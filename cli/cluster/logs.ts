// `cortex logs API` for a cluster: every replica's log (the runtime's JSON lines) through the
// API server, each line prefixed with its pod when there are several. With follow, pods are
// re-listed every 2 s: new replicas are picked up, and a stream that ends (a container restart,
// a dropped connection) is reopened from the last line's timestamp, so nothing is printed twice.
// `cortex logs API JOB_ID`: the same for the pods of a BatchJob's or TaskJob's Kubernetes Job
// (labelled with the job and its API by the operator), whose `api` container runs the workers.
// Following a job ends by itself: once the job's status is final (JOB_DONE_WORDS) and its pods'
// streams have ended or the pods are gone, `job <id> ended: <status>` goes to stderr and the
// command exits 0, like `kubectl logs -f` when its container ends (the status is in that line and
// in `cortex get API JOB_ID`). A pending job without pods is waited for, not ended. The stream of
// a container that has exited is given DRAIN_MS after the job is over to end by itself.
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { Log } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { CONTAINER_NAME } from '../../operator/reconcilers/deployment.ts';
import { JOB_API_LABEL, JOB_LABEL } from '../../operator/reconcilers/batch-job.ts';
import { PODS } from '../../operator/kube/resources.ts';
import type { KubeObject } from '../../operator/kube/client.ts';
import { CliError, ExitCode } from '../errors.ts';
import { clusterJob, clusterJobApiKind } from './jobs.ts';
import { JOB_DONE_WORDS, type JobStatusWord, type RealtimeApi } from '../../operator/api/v1alpha1/index.ts';
import { explain, talk, type Connection } from './connect.ts';
import { apiPods, getApi } from './status.ts';

export interface LogLine {
  pod: string;
  text: string;
}

export interface LogsOptions {
  name: string;
  /** A job of the BatchAPI or TaskAPI `name`: its workers' pods instead of the API's replicas. */
  jobId?: string;
  follow: boolean;
  tailLines?: number;
  /** Only this pod. */
  pod?: string;
  print(line: LogLine): void;
  /** Diagnostics (a pod came or went). */
  note(message: string): void;
  /** Resolves to stop following; the caller then exits (open log streams end with the process). */
  stop?: Promise<void>;
}

interface Stream {
  /** RFC3339 timestamp of the last line printed. */
  since?: string;
  open: boolean;
  /** Resolves when the stream last opened ends. */
  ended?: Promise<void>;
}

/**
 * Following a job, after each look at it: go on (and say once that it waits for pods while it has
 * none and is not over), or end with a last line. `status` undefined: the job resource is gone;
 * `open`: its pods' log streams still open (those of pods still listed).
 */
export function jobFollowStep(
  id: string,
  status: JobStatusWord | undefined,
  pods: number,
  open: number,
): { end: true; line: string } | { end: false; waitingForPods: boolean } {
  if (status === undefined) return { end: true, line: `job ${id} was deleted` };
  if (JOB_DONE_WORDS.includes(status)) {
    return open === 0 ? { end: true, line: `job ${id} ended: ${status}` } : { end: false, waitingForPods: false };
  }
  return { end: false, waitingForPods: pods === 0 };
}

/** "2026-11-25T14:01:02.123456789Z text" → [timestamp, text]. */
export function splitTimestamp(line: string): [string | undefined, string] {
  const space = line.indexOf(' ');
  if (space > 0 && /^\d{4}-\d\d-\d\dT/.test(line)) return [line.slice(0, space), line.slice(space + 1)];
  return [undefined, line];
}

/**
 * The container whose log is the API's: the runtime's, or for a pod API (its own containers)
 * the first container of pod.containers, as written in cortex.yaml.
 */
export function logContainer(api: Pick<RealtimeApi, 'spec'>): string {
  const first = api.spec.pod?.containers?.[0]?.name;
  return first ?? CONTAINER_NAME;
}

/** How long, once a job is over, the open stream of a container that has terminated may take to end. */
export const DRAIN_MS = 5000;

function terminated(pod: V1Pod, container: string): boolean {
  return (pod.status?.containerStatuses ?? []).some((c) => c.name === container && c.state?.terminated !== undefined);
}

function running(pod: V1Pod, container: string): boolean {
  return (pod.status?.containerStatuses ?? []).some(
    (c) => c.name === container && (c.state?.running !== undefined || c.state?.terminated !== undefined),
  );
}

/** The pods of the job `id` of the job API `api` (its workers), sorted by name. */
export async function jobPods(conn: Connection, api: string, id: string): Promise<V1Pod[]> {
  const list = await talk(conn, `listing the pods of job ${id}`, () =>
    conn.client.list<KubeObject>(PODS, conn.namespace, {
      labelSelector: `${JOB_LABEL}=${id},${JOB_API_LABEL}=${api}`,
    }),
  );
  return (list.items as unknown as V1Pod[]).sort((a, b) =>
    String(a.metadata?.name).localeCompare(String(b.metadata?.name)),
  );
}

/** Where the log of `options` comes from: the API's replicas, or the job's workers. */
async function logSource(
  conn: Connection,
  options: Pick<LogsOptions, 'name' | 'jobId'>,
): Promise<{ container: string; pods: () => Promise<V1Pod[]>; status?: () => Promise<JobStatusWord | undefined> }> {
  const { name, jobId } = options;
  if (jobId === undefined) {
    let api: RealtimeApi;
    try {
      api = await getApi(conn, name);
    } catch (error) {
      const kind = await clusterJobApiKind(conn, name).catch(() => undefined);
      if (kind === undefined) throw error;
      throw new CliError(
        `${name} is a ${kind}: give the job, cortex logs ${name} JOB_ID ` +
          `(cortex get ${name} -e ${conn.env.name} lists them)`,
        ExitCode.Usage,
      );
    }
    return { container: logContainer(api), pods: () => apiPods(conn, name) };
  }
  const kind = await clusterJobApiKind(conn, name);
  if (kind === undefined) {
    throw new CliError(
      `${name} is no BatchAPI or TaskAPI in namespace ${conn.namespace} of ${conn.env.name}: it has no jobs`,
      ExitCode.NotFound,
    );
  }
  if ((await clusterJob(conn, kind, jobId)) === undefined) {
    throw new CliError(`${name} has no job ${jobId}`, ExitCode.NotFound);
  }
  return {
    container: CONTAINER_NAME,
    pods: () => jobPods(conn, name, jobId),
    status: async () => (await talk(conn, `reading job ${jobId}`, () => clusterJob(conn, kind, jobId)))?.status,
  };
}

export async function streamLogs(conn: Connection, options: LogsOptions): Promise<void> {
  const { container, pods: listPods, status: jobStatus } = await logSource(conn, options);
  const log = new Log(conn.client.kc);
  const streams = new Map<string, Stream>();
  let stopped = false;
  void options.stop?.then(() => (stopped = true));

  const open = async (pod: string, first: boolean): Promise<Promise<void>> => {
    const state = streams.get(pod) ?? { open: false };
    streams.set(pod, state);
    state.open = true;
    const printedUpTo = state.since;
    const sink = new PassThrough();
    const lines = createInterface({ input: sink, crlfDelay: Infinity });
    const finished = new Promise<void>((resolve) => lines.once('close', resolve));
    state.ended = finished;
    lines.on('line', (raw) => {
      const [ts, text] = splitTimestamp(raw);
      // Lines up to the last one printed before a reopen were printed (sinceTime is whole seconds,
      // so the server sends some again); not lines of one stream with the same timestamp.
      if (ts !== undefined && printedUpTo !== undefined && ts <= printedUpTo) return;
      if (ts !== undefined) state.since = ts;
      options.print({ pod, text });
    });
    try {
      // Never aborted: client-node's stream would emit an unhandled AbortError. A stream ends when
      // its container stops or its pod goes; following stops by the process exiting.
      await log.log(conn.namespace, pod, container, sink, {
        follow: options.follow,
        timestamps: true,
        ...(state.since !== undefined
          ? { sinceTime: state.since }
          : first && options.tailLines !== undefined
            ? { tailLines: options.tailLines }
            : {}),
      });
    } catch (error) {
      state.open = false;
      sink.end();
      state.ended = Promise.resolve();
      const message =
        (error as { body?: { message?: string }; message?: string }).body?.message ?? (error as Error).message;
      options.note(`${pod}: no log yet (${message})`);
      return Promise.resolve();
    }
    return finished.then(() => void (state.open = false));
  };

  const selected = async (): Promise<V1Pod[]> => {
    try {
      return (await listPods()).filter((p) => options.pod === undefined || p.metadata?.name === options.pod);
    } catch (error) {
      throw explain(conn, error, `listing the pods of ${options.jobId ?? options.name}`);
    }
  };

  const pods = await selected();
  const what = options.jobId === undefined ? options.name : `job ${options.jobId}`;
  if (options.pod !== undefined && pods.length === 0) options.note(`${what} has no pod named ${options.pod}`);
  const noPods = `job ${options.jobId} has no pods: its workers have not started, or were deleted when it ended`;
  if (options.jobId !== undefined && options.pod === undefined && pods.length === 0 && !options.follow) {
    options.note(noPods);
  }
  if (!options.follow) {
    for (const pod of pods.filter((p) => running(p, container))) await await open(pod.metadata!.name!, true);
    return;
  }
  let first = true;
  let saidWaiting = false;
  let overSince: number | undefined;
  while (!stopped) {
    // A job's status is read before its pods are listed: once it is over, every pod that will
    // have logged is in the list, and a stream that ends is not reopened.
    const status = jobStatus === undefined ? undefined : await jobStatus();
    const over = status === undefined ? jobStatus !== undefined : JOB_DONE_WORDS.includes(status);
    const current = await selected();
    for (const pod of current.filter((p) => running(p, container))) {
      const name = pod.metadata!.name!;
      if (streams.get(name)?.open || (over && streams.has(name))) continue;
      if (!first && !streams.has(name)) options.note(`${name} started`);
      void open(name, first);
    }
    for (const name of streams.keys()) {
      if (!current.some((p) => p.metadata?.name === name)) {
        streams.delete(name);
        options.note(`${name} is gone`);
      }
    }
    let drained: Promise<unknown> | undefined;
    if (jobStatus !== undefined) {
      overSince ??= over ? Date.now() : undefined;
      // A kubelet ends the stream of a terminated container once it has sent the log; a log
      // server that keeps following the file (kwok's) does not, so such a stream is given
      // DRAIN_MS after the job is over and then left (the command exits).
      const done = new Set(current.filter((p) => terminated(p, container)).map((p) => p.metadata!.name!));
      const draining = overSince !== undefined && Date.now() - overSince < DRAIN_MS;
      const live = [...streams.entries()]
        .filter(([name, s]) => s.open && (draining || !done.has(name)))
        .map(([, s]) => s);
      const step = jobFollowStep(options.jobId!, status, current.length, live.length);
      if (step.end) {
        if (first && current.length === 0 && status !== undefined && options.pod === undefined) options.note(noPods);
        options.note(step.line);
        return;
      }
      if (step.waitingForPods && !saidWaiting) {
        options.note(`job ${options.jobId} is ${status}: waiting for its workers' pods`);
        saidWaiting = true;
      }
      // once the job is over, look again as soon as its last streams end
      if (over) drained = Promise.all(live.map((s) => s.ended));
    }
    first = false;
    await Promise.race([
      new Promise((r) => setTimeout(r, 2000)),
      options.stop ?? new Promise(() => {}),
      ...(drained ? [drained] : []),
    ]);
  }
}
