// The RealtimeAPI object as stored in the cluster (kubebuilder's `type RealtimeAPI struct`).

import type { RealtimeApiSpecInput } from './realtimeapi-types.ts';
import type { RealtimeApiStatus } from './realtimeapi-status.ts';

/**
 * A RealtimeAPI as read from the API server: the spec is as written (defaulted by the CRD's
 * schema, not by applyDefaults).
 */
export interface RealtimeApi {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: RealtimeApiSpecInput;
  status?: RealtimeApiStatus;
}
