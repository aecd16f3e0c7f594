// The fake nodes kwok keeps Ready: a CPU pool and a GPU pool (nvidia.com/gpu capacity, tainted),
// and the node-pools.yaml the operator reads to place RealtimeAPIs on them (format in README.md).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Kubectl } from './kubectl.ts';

export const POOL_LABEL = 'cortex.dev/node-pool';
export const GPU_RESOURCE = 'nvidia.com/gpu';
export const GPU_TYPE = 'NVIDIA-A10G';
export const GPU_TAINT = { key: GPU_RESOURCE, value: 'present', effect: 'NoSchedule' };

export interface NodePool {
  name: string;
  nodeSelector: Record<string, string>;
  tolerations: { key: string; operator: 'Equal' | 'Exists'; value?: string; effect?: string }[];
  /** The extended resource a replica's GPUs are requested as; null on a pool without GPUs. */
  gpuResource: string | null;
  /** What GPUs the pool has (the nodes' nvidia.com/gpu.product label); null without GPUs. */
  gpuType: string | null;
}

export interface FakePool {
  pool: NodePool;
  nodes: string[];
  capacity: Record<string, string>;
  labels: Record<string, string>;
  taints: { key: string; value: string; effect: string }[];
}

export const FAKE_POOLS: FakePool[] = [
  {
    pool: { name: 'cpu', nodeSelector: { [POOL_LABEL]: 'cpu' }, tolerations: [], gpuResource: null, gpuType: null },
    nodes: ['kwok-cpu-0', 'kwok-cpu-1'],
    capacity: { cpu: '8', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi' },
    labels: { [POOL_LABEL]: 'cpu', 'node.kubernetes.io/instance-type': 'fake-cpu-8' },
    taints: [],
  },
  {
    pool: {
      name: 'gpu',
      nodeSelector: { [POOL_LABEL]: 'gpu' },
      tolerations: [{ key: GPU_TAINT.key, operator: 'Equal', value: GPU_TAINT.value, effect: GPU_TAINT.effect }],
      gpuResource: GPU_RESOURCE,
      gpuType: GPU_TYPE,
    },
    nodes: ['kwok-gpu-0', 'kwok-gpu-1'],
    capacity: { cpu: '32', memory: '128Gi', pods: '110', 'ephemeral-storage': '100Gi', [GPU_RESOURCE]: '8' },
    labels: {
      [POOL_LABEL]: 'gpu',
      'node.kubernetes.io/instance-type': 'fake-gpu-8',
      'nvidia.com/gpu.product': GPU_TYPE,
      'nvidia.com/gpu.count': '8',
    },
    taints: [GPU_TAINT],
  },
];

export const FAKE_NODES = FAKE_POOLS.flatMap((p) => p.nodes);

function nodeManifest(name: string, p: FakePool): object {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/os': 'linux',
        'kubernetes.io/hostname': name,
        type: 'kwok',
        ...p.labels,
      },
    },
    spec: { taints: p.taints },
    status: {
      capacity: p.capacity,
      allocatable: p.capacity,
    },
  };
}

/** Creates the fake nodes and waits until kwok reports them Ready. */
export async function registerFakeNodes(kubectl: Kubectl, timeoutS = 120): Promise<void> {
  const items = FAKE_POOLS.flatMap((p) => p.nodes.map((n) => nodeManifest(n, p)));
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
  await kubectl(['wait', '--for=condition=Ready', `--timeout=${timeoutS}s`, ...FAKE_NODES.map((n) => `node/${n}`)], {
    timeoutMs: (timeoutS + 30) * 1000,
  });
}

export function writeNodePools(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const header = '# Node pools of the cortex test cluster (fake kwok nodes); format: test/cluster/README.md\n';
  writeFileSync(file, header + stringify(FAKE_POOLS.map((p) => p.pool)));
}
