// What an AsyncAPI keeps per request in the store, and where: shared by the front that queues
// requests and answers GET <endpoint>/<id> (front.ts) and the replicas that work them (worker.ts).
import { randomUUID } from 'node:crypto';

export type AsyncStatus = 'in_queue' | 'in_progress' | 'completed' | 'failed';

/** GET <endpoint>/<id>'s answer, as stored (Cortex's fields; error is ours, for failed). */
export interface AsyncRecord {
  id: string;
  status: AsyncStatus;
  /** The predictor's answer, for completed: JSON as JSON, anything else as text. */
  result?: unknown;
  /** Why it failed (the predictor's error answer, or the tries it got). */
  error?: string;
  /** When the status last changed (ISO 8601). */
  timestamp: string;
}

/** One queued request: what the worker needs to rebuild it for the predictor. */
export interface AsyncMessage {
  id: string;
  /** The request body, base64. */
  body: string;
  contentType?: string;
  query: string;
}

/** Where one API's requests and records live. `scope`: the namespace in a cluster, 'local' locally. */
export function asyncNames(scope: string, api: string) {
  const stream = `cortex:async:${scope}:${api}`;
  return {
    stream,
    group: 'workers',
    record: (id: string) => `${stream}:request:${id}`,
  };
}
export type AsyncNames = ReturnType<typeof asyncNames>;

export function newRequestId(): string {
  return randomUUID();
}

export function record(id: string, status: AsyncStatus, extra: Partial<AsyncRecord> = {}): string {
  return JSON.stringify({ id, status, ...extra, timestamp: new Date().toISOString() } satisfies AsyncRecord);
}
