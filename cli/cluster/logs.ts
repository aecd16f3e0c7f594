// `cortex logs API` for a cluster: every replica's log (the runtime's JSON lines) through the
// API server, each line prefixed with its pod when there are several. With follow, pods are
// re-listed every 2 s: new replicas are picked up, and a stream that ends (a container restart,
// a dropped connection) is reopened from the last line's timestamp, so nothing is printed twice.
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { Log } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { CONTAINER_NAME } from '../../operator/reconcilers/deployment.ts';
import type { RealtimeApi } from '../../operator/api/v1alpha1/index.ts';
import { explain, type Connection } from './connect.ts';
import { apiPods, getApi } from './status.ts';

export interface LogLine {
  pod: string;
  text: string;
}

export interface LogsOptions {
  name: string;
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

function running(pod: V1Pod, container: string): boolean {
  return (pod.status?.containerStatuses ?? []).some(
    (c) => c.name === container && (c.state?.running !== undefined || c.state?.terminated !== undefined),
  );
}

export async function streamLogs(conn: Connection, options: LogsOptions): Promise<void> {
  const container = logContainer(await getApi(conn, options.name));
  const log = new Log(conn.client.kc);
  const streams = new Map<string, Stream>();
  let stopped = false;
  void options.stop?.then(() => (stopped = true));

  const open = async (pod: string, first: boolean): Promise<Promise<void>> => {
    const state = streams.get(pod) ?? { open: false };
    streams.set(pod, state);
    state.open = true;
    const sink = new PassThrough();
    const lines = createInterface({ input: sink, crlfDelay: Infinity });
    const finished = new Promise<void>((resolve) => lines.once('close', resolve));
    lines.on('line', (raw) => {
      const [ts, text] = splitTimestamp(raw);
      if (ts !== undefined && state.since !== undefined && ts <= state.since) return; // already printed before a reopen
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
      const message =
        (error as { body?: { message?: string }; message?: string }).body?.message ?? (error as Error).message;
      options.note(`${pod}: no log yet (${message})`);
      return Promise.resolve();
    }
    return finished.then(() => void (state.open = false));
  };

  const selected = async (): Promise<V1Pod[]> => {
    try {
      return (await apiPods(conn, options.name)).filter(
        (p) => options.pod === undefined || p.metadata?.name === options.pod,
      );
    } catch (error) {
      throw explain(conn, error, `listing the pods of ${options.name}`);
    }
  };

  const pods = await selected();
  if (options.pod !== undefined && pods.length === 0) options.note(`${options.name} has no pod named ${options.pod}`);
  if (!options.follow) {
    for (const pod of pods.filter((p) => running(p, container))) await await open(pod.metadata!.name!, true);
    return;
  }
  let first = true;
  while (!stopped) {
    const current = await selected();
    for (const pod of current.filter((p) => running(p, container))) {
      const name = pod.metadata!.name!;
      if (streams.get(name)?.open) continue;
      if (!first && !streams.has(name)) options.note(`${name} started`);
      void open(name, first);
    }
    for (const name of streams.keys()) {
      if (!current.some((p) => p.metadata?.name === name)) {
        streams.delete(name);
        options.note(`${name} is gone`);
      }
    }
    first = false;
    await Promise.race([new Promise((r) => setTimeout(r, 2000)), options.stop ?? new Promise(() => {})]);
  }
}
