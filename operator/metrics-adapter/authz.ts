// Whether the user the front proxy vouches for may read a metric: asked of the API server with
// a SubjectAccessReview (delegated authorization, as aggregated API servers do), the answer
// cached for a short while so that an HPA syncing every 15 s costs about one review per minute.
// The API server has already authorized the request before proxying it; this second check
// keeps the rule "who may read custom.metrics.k8s.io" in RBAC alone should anything else ever
// reach this server with the proxy's certificate.

import { HttpMethod } from '@kubernetes/client-node';
import type { KubeClient } from '../kube/client.ts';
import type { PolicyRule } from '../reconcilers/types.ts';
import type { UserInfo } from './authn.ts';

export const authzRbac: PolicyRule[] = [
  { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
];

export interface ResourceAttributes {
  namespace?: string;
  verb: string;
  group: string;
  version: string;
  resource: string;
  subresource?: string;
  name?: string;
}

export interface Decision {
  allowed: boolean;
  reason?: string;
}

export type Authorizer = (user: UserInfo, attributes: ResourceAttributes) => Promise<Decision>;

interface Cached {
  decision: Decision;
  until: number;
}

export function subjectAccessReviewAuthorizer(
  client: KubeClient,
  options: { allowTtlMs?: number; denyTtlMs?: number; now?: () => number } = {},
): Authorizer {
  const cache = new Map<string, Cached>();
  const allowTtl = options.allowTtlMs ?? 60_000;
  const denyTtl = options.denyTtlMs ?? 10_000;
  const now = options.now ?? Date.now;
  return async (user, attributes) => {
    const key = JSON.stringify([user.name, user.uid, [...user.groups].sort(), user.extra, attributes]);
    const hit = cache.get(key);
    if (hit && hit.until > now()) return hit.decision;
    const review = await client.request<{
      status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string };
    }>(HttpMethod.POST, '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: user.name,
          uid: user.uid,
          groups: user.groups,
          extra: user.extra,
          resourceAttributes: attributes,
        },
      },
    });
    const decision: Decision = {
      allowed: review.status?.allowed === true,
      reason: review.status?.reason || review.status?.evaluationError || undefined,
    };
    if (cache.size > 10_000) cache.clear(); // bounded: the callers are a handful of controllers
    cache.set(key, { decision, until: now() + (decision.allowed ? allowTtl : denyTtl) });
    return decision;
  };
}
