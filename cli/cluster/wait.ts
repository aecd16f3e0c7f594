// Following a rollout in the cluster through the RealtimeAPI's status, which the operator derives
// from the Deployment and the pods (status.ts there): replicas updated/ready, and when stuck, why
// (the scheduler's message, an image pull, the predictor's termination message).
import type { RealtimeApi } from '../../operator/api/v1alpha1/index.ts';
import { isNotFound, type KubeObject } from '../../operator/kube/client.ts';
import { explain, type Connection } from './connect.ts';
import { REALTIME_APIS } from '../../operator/kube/resources.ts';

export type WaitOutcome =
  | { kind: 'live'; api: RealtimeApi }
  | { kind: 'failed'; api: RealtimeApi; reason: string }
  | { kind: 'timeout'; api: RealtimeApi | undefined; reason: string }
  | { kind: 'interrupted' };

export interface WaitOptions {
  name: string;
  /** The generation the deploy wrote: older statuses describe an older spec. */
  generation: number;
  timeoutMs: number;
  pollMs?: number;
  /** Resolves when the user asks to stop waiting (Ctrl-C). */
  interrupted?: Promise<void>;
  /** Called with a one-line progress label whenever it changes. */
  progress(label: string): void;
}

/** Statuses that will not get better by waiting: the deploy is reported as failed. */
const FAILED_WORDS = new Set(['error', 'error (out of memory)', 'error (image pull)']);

/** One line about where the rollout stands. */
export function progressLabel(api: RealtimeApi | undefined, generation: number): string {
  const s = api?.status;
  if (s === undefined || (s.observedGeneration ?? 0) < generation)
    return 'waiting for the operator to pick up the change';
  const r = s.replicas;
  const counts = r ? `${r.ready}/${r.requested} ready, ${r.updated}/${r.requested} up to date` : (s.ready ?? '');
  if (s.status === 'live') return `live (${counts})`;
  return `${s.status ?? 'updating'}: ${counts}${s.message && s.status !== 'updating' ? ` — ${s.message}` : ''}`;
}

export async function waitForRollout(conn: Connection, options: WaitOptions): Promise<WaitOutcome> {
  const deadline = Date.now() + options.timeoutMs;
  let stop = false;
  void options.interrupted?.then(() => (stop = true));
  let last: RealtimeApi | undefined;
  let label = '';
  for (;;) {
    if (stop) return { kind: 'interrupted' };
    try {
      last = (await conn.client.get<KubeObject>(REALTIME_APIS, conn.namespace, options.name)) as unknown as RealtimeApi;
    } catch (error) {
      if (!isNotFound(error)) throw explain(conn, error, `following ${options.name}`);
      return {
        kind: 'failed',
        api: last as RealtimeApi,
        reason: `${options.name} was deleted while the deploy waited`,
      };
    }
    const next = progressLabel(last, options.generation);
    if (next !== label) options.progress((label = next));
    const s = last.status;
    if (s !== undefined && (s.observedGeneration ?? 0) >= options.generation) {
      if (s.status === 'live') return { kind: 'live', api: last };
      if (s.status !== undefined && FAILED_WORDS.has(s.status))
        return { kind: 'failed', api: last, reason: s.message ?? s.status };
    }
    if (Date.now() > deadline) return { kind: 'timeout', api: last, reason: label };
    await Promise.race([
      new Promise((r) => setTimeout(r, options.pollMs ?? 1000)),
      options.interrupted ?? new Promise(() => {}),
    ]);
  }
}
