import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseNodePools, selectPool, type NodePools } from './node-pools.ts';
import { filePools } from './node-pools-source.ts';
import { silentLogger } from './util/log.ts';

// the format test/cluster writes (nulls for pools without GPUs)
const YAML = `
- name: cpu
  nodeSelector:
    cortex.dev/node-pool: cpu
  tolerations: []
  gpuResource: null
  gpuType: null
- name: gpu
  nodeSelector:
    cortex.dev/node-pool: gpu
  tolerations:
    - key: nvidia.com/gpu
      operator: Equal
      value: present
      effect: NoSchedule
  gpuResource: nvidia.com/gpu
  gpuType: NVIDIA-A10G
`;

const pools: NodePools = { pools: parseNodePools(YAML), source: '/etc/pools.yaml' };

test('parses the node-pools.yaml format', () => {
  assert.deepEqual(pools.pools, [
    { name: 'cpu', nodeSelector: { 'cortex.dev/node-pool': 'cpu' }, tolerations: [] },
    {
      name: 'gpu',
      nodeSelector: { 'cortex.dev/node-pool': 'gpu' },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Equal', value: 'present', effect: 'NoSchedule' }],
      gpuResource: 'nvidia.com/gpu',
      gpuType: 'NVIDIA-A10G',
    },
  ]);
  assert.deepEqual(parseNodePools(''), []);
});

test('rejects malformed pools with a precise message', () => {
  assert.throws(() => parseNodePools('name: x'), /YAML list/);
  assert.throws(() => parseNodePools('- nodeSelector: {}'), /entry 1: name/);
  assert.throws(() => parseNodePools('- name: a\n- name: a'), /listed twice/);
  assert.throws(() => parseNodePools('- name: a\n  tolerations: {}'), /pool "a": tolerations must be a list/);
  assert.throws(() => parseNodePools('- name: a\n  tolerations: [{operator: Maybe}]'), /Equal or Exists/);
  assert.throws(() => parseNodePools('- name: a\n  gpuResource: "gpu"'), /extended resource/);
  assert.throws(() => parseNodePools('- name: a\n  selector: {}'), /unknown field selector/);
});

test('CPU APIs go to CPU pools, GPU APIs to GPU pools', () => {
  assert.deepEqual(selectPool({ gpu: 0 }, pools).placement, {
    pools: ['cpu'],
    nodeSelector: { 'cortex.dev/node-pool': 'cpu' },
    tolerations: [],
    gpuResource: undefined,
  });
  const gpu = selectPool({ gpu: 2 }, pools).placement!;
  assert.deepEqual(gpu.pools, ['gpu']);
  assert.equal(gpu.gpuResource, 'nvidia.com/gpu');
  assert.deepEqual(gpu.tolerations, [
    { key: 'nvidia.com/gpu', operator: 'Equal', value: 'present', effect: 'NoSchedule' },
  ]);
  // a CPU API may be sent to the GPU pool explicitly
  assert.deepEqual(selectPool({ gpu: 0, nodeGroups: ['gpu'] }, pools).placement?.pools, ['gpu']);
});

test('no pool fits: compute unavailable, naming the pools and why', () => {
  const onlyCpu: NodePools = { pools: pools.pools.slice(0, 1), source: 'ConfigMap cortex-system/cortex-node-pools' };
  const noGpu = selectPool({ gpu: 1 }, onlyCpu);
  assert.match(noGpu.unavailable!, /compute\.gpu is 1, but no pool has GPUs/);
  assert.match(noGpu.unavailable!, /cpu \(no GPUs\)/);
  assert.match(noGpu.unavailable!, /ConfigMap cortex-system\/cortex-node-pools/);
  const wrongGroup = selectPool({ gpu: 1, nodeGroups: ['cpu'] }, pools);
  assert.match(wrongGroup.unavailable!, /none of compute.nodeGroups \(cpu\) has GPUs/);
  assert.match(wrongGroup.unavailable!, /gpu \(GPU: NVIDIA-A10G, nvidia.com\/gpu\)/);
  const missing = selectPool({ gpu: 0, nodeGroups: ['tpu', 'cpu'] }, pools);
  assert.match(missing.unavailable!, /lists tpu, which does not exist; the pools are: cpu \(no GPUs\), gpu/);
  const broken = selectPool(
    { gpu: 0 },
    { pools: [], source: 'f.yaml', error: 'entry 1: name must be a non-empty string' },
  );
  assert.match(broken.unavailable!, /cannot be read: entry 1/);
});

test('no pools configured: anywhere, GPUs as nvidia.com/gpu; nodeGroups cannot be met', () => {
  const none: NodePools = { pools: [], source: '' };
  assert.deepEqual(selectPool({ gpu: 0 }, none).placement, { pools: [], tolerations: [], gpuResource: undefined });
  assert.equal(selectPool({ gpu: 1 }, none).placement?.gpuResource, 'nvidia.com/gpu');
  assert.match(selectPool({ gpu: 0, nodeGroups: ['a'] }, none).unavailable!, /no node pools are configured/);
});

test('only GPU pools: a CPU API may use them; a pool without selector means anywhere', () => {
  const gpuOnly: NodePools = { pools: pools.pools.slice(1), source: 'x' };
  assert.deepEqual(selectPool({ gpu: 0 }, gpuOnly).placement?.pools, ['gpu']);
  const open: NodePools = { pools: [{ name: 'any', nodeSelector: {}, tolerations: [] }], source: 'x' };
  const p = selectPool({ gpu: 0 }, open).placement!;
  assert.equal(p.nodeSelector, undefined);
  assert.equal(p.affinity, undefined);
});

test('file source: re-read when the file changes', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pools-'));
  const file = path.join(dir, 'node-pools.yaml');
  const src = filePools(file, silentLogger, 10);
  assert.deepEqual(src.current(), { pools: [], source: '' }, 'no file: no pools');
  let changes = 0;
  await src.start(() => changes++);
  writeFileSync(file, YAML);
  await new Promise((r) => setTimeout(r, 60));
  assert.ok(changes >= 1);
  assert.deepEqual(
    src.current().pools.map((p) => p.name),
    ['cpu', 'gpu'],
  );
  writeFileSync(file, '- name: only\n');
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  assert.deepEqual(
    src.current().pools.map((p) => p.name),
    ['only'],
  );
  writeFileSync(file, 'oops: [');
  utimesSync(file, new Date(), new Date(Date.now() + 10000));
  assert.ok(src.current().error);
  await src.stop();
});
