// What the metrics adapter needs from the API server (merged into the operator's RBAC by
// operator/rbac.ts): its own pod and RealtimeAPI informers, the front proxy's settings, and
// SubjectAccessReviews to authorize callers.

import { GROUP, PLURAL } from '../api/v1alpha1/index.ts';
import type { PolicyRule } from '../reconcilers/types.ts';
import { authnRbac } from './authn.ts';
import { authzRbac } from './authz.ts';

export const metricsAdapterRbac: PolicyRule[] = [
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [GROUP], resources: [PLURAL], verbs: ['get', 'list', 'watch'] },
  ...authnRbac,
  ...authzRbac,
];
