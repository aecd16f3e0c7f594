// Node pools: the groups of nodes an admin offers to APIs, and which of them an API's compute
// request fits. The admin lists them in a ConfigMap (key node-pools.yaml) or, for an operator
// run out of the cluster, a file (default ~/.cortex/operator/node-pools.yaml):
//
//   - name: cpu
//     nodeSelector: {cortex.dev/node-pool: cpu}
//   - name: gpu
//     nodeSelector: {cortex.dev/node-pool: gpu}
//     tolerations: [{key: nvidia.com/gpu, operator: Equal, value: present, effect: NoSchedule}]
//     gpuResource: nvidia.com/gpu
//     gpuType: NVIDIA-A10G

import { parse } from 'yaml';
import type { ComputeSpec } from './api/v1alpha1/index.ts';

/** Key of the node pools in the ConfigMap. */
export const NODE_POOLS_KEY = 'node-pools.yaml';

export interface Toleration {
  key?: string;
  operator?: 'Equal' | 'Exists';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

export interface NodePool {
  name: string;
  /** Labels every node of the pool has. Empty: any node. */
  nodeSelector: Record<string, string>;
  /** What a replica needs to tolerate to run there (the pool's taints). */
  tolerations: Toleration[];
  /** The extended resource the pool's GPUs are requested as (e.g. nvidia.com/gpu); absent: no GPUs. */
  gpuResource?: string;
  /** What GPUs the pool has, for people (e.g. NVIDIA-A10G). */
  gpuType?: string;
}

/** The pools and where they came from (for messages). */
export interface NodePools {
  pools: NodePool[];
  /** e.g. "ConfigMap cortex-system/cortex-node-pools" or a file path; "" when none is configured. */
  source: string;
  /** Why the configuration could not be read, when it could not. */
  error?: string;
}

/** Parses node-pools.yaml; throws an Error naming the entry and field that is wrong. */
export function parseNodePools(text: string): NodePool[] {
  const doc: unknown = parse(text);
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc))
    throw new Error('must be a YAML list of pools ({name, nodeSelector, tolerations, gpuResource, gpuType})');
  const names = new Set<string>();
  return doc.map((entry: unknown, i): NodePool => {
    const at = `entry ${i + 1}`;
    if (!isObject(entry)) throw new Error(`${at}: must be a mapping with a name`);
    const { name, nodeSelector, tolerations, gpuResource, gpuType } = entry;
    const unknown = Object.keys(entry).filter(
      (k) => !['name', 'nodeSelector', 'tolerations', 'gpuResource', 'gpuType'].includes(k),
    );
    if (unknown.length > 0)
      throw new Error(
        `${at}: unknown field ${unknown.join(', ')} (known: name, nodeSelector, tolerations, gpuResource, gpuType)`,
      );
    if (typeof name !== 'string' || name === '') throw new Error(`${at}: name must be a non-empty string`);
    if (names.has(name)) throw new Error(`${at}: pool "${name}" is listed twice`);
    names.add(name);
    const where = `pool "${name}"`;
    const selector: Record<string, string> = {};
    if (nodeSelector !== undefined && nodeSelector !== null) {
      if (!isObject(nodeSelector)) throw new Error(`${where}: nodeSelector must be a mapping of labels`);
      for (const [k, v] of Object.entries(nodeSelector)) {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
          throw new Error(`${where}: nodeSelector.${k} must be a string`);
        selector[k] = String(v);
      }
    }
    const tols: Toleration[] = [];
    if (tolerations !== undefined && tolerations !== null) {
      if (!Array.isArray(tolerations)) throw new Error(`${where}: tolerations must be a list`);
      tolerations.forEach((t: unknown, j) => {
        if (!isObject(t)) throw new Error(`${where}: tolerations[${j}] must be a mapping`);
        if (t.operator !== undefined && t.operator !== 'Equal' && t.operator !== 'Exists')
          throw new Error(`${where}: tolerations[${j}].operator must be Equal or Exists`);
        if (t.effect !== undefined && !['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(String(t.effect))) {
          throw new Error(`${where}: tolerations[${j}].effect must be NoSchedule, PreferNoSchedule or NoExecute`);
        }
        const tol: Toleration = {};
        if (t.key !== undefined) tol.key = String(t.key);
        if (t.operator !== undefined) tol.operator = t.operator as Toleration['operator'];
        if (t.value !== undefined) tol.value = String(t.value);
        if (t.effect !== undefined) tol.effect = t.effect as Toleration['effect'];
        if (typeof t.tolerationSeconds === 'number') tol.tolerationSeconds = t.tolerationSeconds;
        tols.push(tol);
      });
    }
    const pool: NodePool = { name, nodeSelector: selector, tolerations: tols };
    if (gpuResource !== undefined && gpuResource !== null && gpuResource !== '') {
      if (typeof gpuResource !== 'string' || !/^[a-z0-9.-]+\/[A-Za-z0-9._-]+$/.test(gpuResource))
        throw new Error(`${where}: gpuResource must be an extended resource name such as nvidia.com/gpu`);
      pool.gpuResource = gpuResource;
    }
    if (gpuType !== undefined && gpuType !== null && gpuType !== '') pool.gpuType = String(gpuType);
    return pool;
  });
}

/** Where an API's replicas may run. */
export interface Placement {
  /** Names of the pools chosen; empty when the replicas may run anywhere. */
  pools: string[];
  nodeSelector?: Record<string, string>;
  /** Node affinity when the replicas may run on any of several pools (a term per pool). */
  affinity?: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: { matchExpressions: { key: string; operator: 'In'; values: string[] }[] }[];
      };
    };
  };
  tolerations: Toleration[];
  /** The resource GPUs are requested as, when compute.gpu > 0. */
  gpuResource?: string;
}

export type PoolChoice =
  { placement: Placement; unavailable?: undefined } | { placement?: undefined; unavailable: string };

/** The resource name used for GPUs when no pool is configured to say otherwise. */
export const DEFAULT_GPU_RESOURCE = 'nvidia.com/gpu';

function describePool(p: NodePool): string {
  return p.gpuResource
    ? `${p.name} (GPU: ${p.gpuType ? `${p.gpuType}, ` : ''}${p.gpuResource})`
    : `${p.name} (no GPUs)`;
}

/**
 * The pools an API's compute request fits:
 * - compute.nodeGroups names the candidates (every name must exist); otherwise all pools;
 * - gpu > 0 needs a pool with a gpuResource (the first one's resource name wins when pools use
 *   different ones);
 * - gpu = 0 without nodeGroups prefers pools without GPUs, so GPU nodes are kept for GPU APIs
 *   (if every pool has GPUs, any of them).
 * No pools configured at all: replicas run on any node, GPUs requested as nvidia.com/gpu (the
 * scheduler then says whether a node has them). Otherwise `unavailable` says which pools exist
 * and why none fits.
 */
export function selectPool(compute: Pick<ComputeSpec, 'gpu' | 'nodeGroups'>, config: NodePools): PoolChoice {
  const gpu = compute.gpu ?? 0;
  const wanted = compute.nodeGroups;
  const { pools } = config;
  if (config.error) return { unavailable: `the node pools in ${config.source} cannot be read: ${config.error}` };
  const existing =
    pools.length > 0 ? `the pools are: ${pools.map(describePool).join(', ')}` : 'no node pools are configured';
  const where = config.source ? ` (${config.source})` : '';

  if (pools.length === 0) {
    if (wanted && wanted.length > 0)
      return { unavailable: `compute.nodeGroups lists ${wanted.join(', ')}, but ${existing}${where}` };
    return { placement: { pools: [], tolerations: [], gpuResource: gpu > 0 ? DEFAULT_GPU_RESOURCE : undefined } };
  }

  let candidates = pools;
  if (wanted && wanted.length > 0) {
    const missing = wanted.filter((n) => !pools.some((p) => p.name === n));
    if (missing.length > 0) {
      return {
        unavailable:
          `compute.nodeGroups lists ${missing.join(', ')}, ` +
          `which ${missing.length === 1 ? 'does' : 'do'} not exist; ${existing}${where}`,
      };
    }
    candidates = pools.filter((p) => wanted.includes(p.name));
  }

  if (gpu > 0) {
    const withGpu = candidates.filter((p) => p.gpuResource);
    if (withGpu.length === 0) {
      const among =
        wanted && wanted.length > 0
          ? `none of compute.nodeGroups (${wanted.join(', ')}) has GPUs`
          : 'no pool has GPUs (gpuResource)';
      return { unavailable: `compute.gpu is ${gpu}, but ${among}; ${existing}${where}` };
    }
    const resource = withGpu[0].gpuResource!;
    return {
      placement: placementOf(
        withGpu.filter((p) => p.gpuResource === resource),
        resource,
      ),
    };
  }

  if (!wanted || wanted.length === 0) {
    const cpuOnly = candidates.filter((p) => !p.gpuResource);
    if (cpuOnly.length > 0) candidates = cpuOnly;
  }
  return { placement: placementOf(candidates, undefined) };
}

function placementOf(pools: NodePool[], gpuResource: string | undefined): Placement {
  const tolerations: Toleration[] = [];
  const seen = new Set<string>();
  for (const t of pools.flatMap((p) => p.tolerations)) {
    const key = JSON.stringify([t.key, t.operator, t.value, t.effect, t.tolerationSeconds]);
    if (!seen.has(key)) {
      seen.add(key);
      tolerations.push(t);
    }
  }
  const placement: Placement = { pools: pools.map((p) => p.name), tolerations, gpuResource };
  // a pool without a selector means "any node": then nothing narrows the choice
  if (pools.some((p) => Object.keys(p.nodeSelector).length === 0)) return placement;
  if (pools.length === 1) {
    placement.nodeSelector = { ...pools[0].nodeSelector };
  } else {
    placement.affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: pools.map((p) => ({
            matchExpressions: Object.entries(p.nodeSelector).map(([key, value]) => ({
              key,
              operator: 'In' as const,
              values: [value],
            })),
          })),
        },
      },
    };
  }
  return placement;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
