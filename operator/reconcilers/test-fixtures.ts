// Shared fixtures of the child reconcilers' unit tests (deployment, service, hpa): one defaulted
// API instance and the child config a pool choice gives it, so each test file builds the same inputs.

import assert from 'node:assert/strict';
import { applyDefaults, type RealtimeApiSpecInput } from '../api/v1alpha1/index.ts';
import { selectPool, type NodePool } from '../node-pools.ts';
import type { ApiInstance, ChildConfig } from './types.ts';

const POOLS: NodePool[] = [
  { name: 'cpu', nodeSelector: { 'cortex.dev/node-pool': 'cpu' }, tolerations: [] },
  {
    name: 'gpu',
    nodeSelector: { 'cortex.dev/node-pool': 'gpu' },
    tolerations: [{ key: 'nvidia.com/gpu', operator: 'Equal', value: 'present', effect: 'NoSchedule' }],
    gpuResource: 'nvidia.com/gpu',
    gpuType: 'NVIDIA-A10G',
  },
];

export function api(spec: RealtimeApiSpecInput, name = 'iris'): ApiInstance {
  return {
    name,
    namespace: 'ml',
    uid: 'uid-1',
    generation: 3,
    spec: applyDefaults(name, {
      predictor: { type: 'python', path: 'predictor.py', image: 'registry.example.com/iris:1' },
      ...spec,
    }),
  };
}

export function config(a: ApiInstance, pools = POOLS): ChildConfig {
  const choice = selectPool(a.spec.compute, { pools, source: 'test' });
  assert.ok(choice.placement, choice.unavailable);
  return {
    runtimeImage: 'cortex/runtime:test',
    hpaTolerance: true,
    clusterDomain: 'cluster.local',
    placement: choice.placement,
  };
}
