// Renders charts/cortex with the real helm (the test cluster's binary, built once; no cluster
// needed) and parses the objects, for tests that check what the chart ships.
import assert from 'node:assert/strict';
import path from 'node:path';
import { execa } from 'execa';
import { parseAllDocuments } from 'yaml';
import { ensureBinaries } from '../cluster/build.ts';
import { repoRoot } from './serve.ts';

export const CHART = path.join(repoRoot, 'charts', 'cortex');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered Kubernetes objects, read field by field
export type Rendered = any;

/** `helm template` with `--set` values (each "key=value"); the objects it renders. */
export async function renderChart(set: string[] = [], extraArgs: string[] = []): Promise<Rendered[]> {
  const helm = (await ensureBinaries()).helm;
  const r = await execa(
    helm,
    ['template', 'cortex', CHART, '-n', 'cortex-system', ...set.flatMap((s) => ['--set', s]), ...extraArgs],
    { reject: false, timeout: 60_000, env: { HELM_CONFIG_HOME: '/nonexistent', KUBECONFIG: '/nonexistent' } },
  );
  assert.equal(r.exitCode, 0, `helm template ${set.join(' ')}:\n${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Rendered)
    .filter(Boolean);
}
