// Writing a RealtimeAPI's derived status: the server-side apply of the status subresource under its own
// field manager, and the Event a changed status word makes. Apart from the controller because other
// controllers (TrafficSplitter, job APIs) write their status with the same field manager.

import { GROUP, KIND, VERSION, type RealtimeApi, type RealtimeApiStatus } from './api/v1alpha1/index.ts';
import type { EventRecorder } from './events.ts';
import { isNotFound, type KubeClient, type KubeObject } from './kube/client.ts';
import { REALTIME_APIS } from './kube/resources.ts';
import type { OperatorMetrics } from './metrics.ts';
import type { Logger } from './util/log.ts';

/** Field manager of status writes (the children's is cortex-operator). */
export const STATUS_FIELD_MANAGER = 'cortex-operator-status';

type ApiObject = RealtimeApi & KubeObject;

/** An Event when the status word changes to a failure (Warning, with the condition's reason) or to live. */
export function statusEvent(events: EventRecorder | undefined, api: ApiObject, status: RealtimeApiStatus): void {
  if (!events) return;
  const before = api.status?.status;
  if (status.status === before && status.message === api.status?.message) return;
  const reason = status.conditions?.find((c) => c.type === 'Ready')?.reason ?? 'Failed';
  if (status.status === 'live') {
    if (before !== 'live') events.event(api, 'Normal', 'Live', `every replica is ready (${status.ready ?? ''})`);
  } else if (status.status !== 'updating') {
    events.event(api, 'Warning', reason, `${status.status}: ${status.message ?? ''}`);
  }
}

/** Server-side apply of the status subresource with its own field manager. */
export async function writeStatus(
  deps: { client: KubeClient; metrics?: OperatorMetrics; log: Logger },
  api: ApiObject,
  status: RealtimeApiStatus,
  signal?: AbortSignal,
): Promise<void> {
  try {
    await deps.client.apply(
      REALTIME_APIS,
      {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: KIND,
        metadata: { name: api.metadata.name, namespace: api.metadata.namespace },
        status,
      },
      { fieldManager: STATUS_FIELD_MANAGER, force: true, subresource: 'status', signal },
    );
    deps.metrics?.writes.inc({ kind: KIND, verb: 'apply-status' });
    deps.log.info('status', {
      api: `${api.metadata.namespace}/${api.metadata.name}`,
      status: status.status,
      ready: status.ready,
      detail: status.message,
    });
  } catch (error) {
    if (isNotFound(error)) return; // deleted meanwhile
    throw error;
  }
}
