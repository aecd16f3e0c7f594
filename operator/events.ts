// Kubernetes Events (core v1) on RealtimeAPIs: what the operator did to an API's children
// (Created, Updated: a spec change or a child put back after a manual edit or delete) and why
// it failed (InvalidSpec, ApplyFailed, ComputeUnavailable). `kubectl describe rapi <name>` lists
// them. Emitting never fails a reconcile: a refused Event is logged and dropped.

import { errorMessage } from './util/errors.ts';
import type { KubeClient, KubeObject } from './kube/client.ts';
import { EVENTS } from './kube/resources.ts';
import type { Logger } from './util/log.ts';
import type { OperatorMetrics } from './metrics.ts';
import { ruleOn, type PolicyRule } from './reconcilers/types.ts';

export const eventsRbac: PolicyRule[] = [ruleOn(EVENTS, ['create', 'patch'])];
export const EVENT_COMPONENT = 'cortex-operator';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  event(obj: KubeObject, type: EventType, reason: string, message: string): void;
}

/** RFC 3339 without fractions (meta/v1 Time). */
function timeNow(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export function eventRecorder(
  client: KubeClient,
  options: { log: Logger; instance: string; metrics?: OperatorMetrics },
): EventRecorder {
  return {
    event(obj, type, reason, message) {
      const md = obj.metadata ?? {};
      const now = timeNow();
      const body: KubeObject = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${md.name}.`, namespace: md.namespace },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: md.name,
          namespace: md.namespace,
          uid: md.uid,
          resourceVersion: md.resourceVersion,
        },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: EVENT_COMPONENT },
        reportingComponent: EVENT_COMPONENT,
        reportingInstance: options.instance,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      };
      options.metrics?.events.inc({ type, reason });
      client.create(EVENTS, body, EVENT_COMPONENT).catch((error: unknown) => {
        options.log.warn('cannot record an event', {
          api: `${md.namespace}/${md.name}`,
          reason,
          error: errorMessage(error),
        });
      });
    },
  };
}
