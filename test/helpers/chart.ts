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

/** helm `command` (template, lint) on the chart with `--set` values (each "key=value"). */
export async function helmOnChart(command: 'template' | 'lint', set: string[] = [], extraArgs: string[] = []) {
  const helm = (await ensureBinaries()).helm;
  const release = command === 'template' ? ['cortex'] : [];
  return execa(
    helm,
    [command, ...release, CHART, '-n', 'cortex-system', ...set.flatMap((s) => ['--set', s]), ...extraArgs],
    { reject: false, timeout: 60_000, env: { HELM_CONFIG_HOME: '/nonexistent', KUBECONFIG: '/nonexistent' } },
  );
}

/** `helm template` with `--set` values (each "key=value"); the objects it renders. */
export async function renderChart(set: string[] = [], extraArgs: string[] = []): Promise<Rendered[]> {
  const r = await helmOnChart('template', set, extraArgs);
  assert.equal(r.exitCode, 0, `helm template ${set.join(' ')}:\n${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Rendered)
    .filter(Boolean);
}

export interface ChartQuery {
  /** Where it is: "cortex-api.json: Latency p50 / p95 / p99" or "alert CortexAPIDown". */
  where: string;
  expr: string;
}

/** Every PromQL query the chart ships: its dashboards' panels and variables, and its alerts. */
export async function chartQueries(): Promise<{ dashboards: Record<string, Rendered>; queries: ChartQuery[] }> {
  const objs = await renderChart(['dashboards.enabled=true', 'prometheusRule.enabled=true']);
  const configMap = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboards'));
  assert.ok(configMap, 'dashboards.enabled renders the dashboards ConfigMap');
  const dashboards: Record<string, Rendered> = {};
  const queries: ChartQuery[] = [];
  for (const [file, text] of Object.entries(configMap.data as Record<string, string>)) {
    const model = JSON.parse(text);
    dashboards[file] = model;
    for (const p of model.panels)
      for (const t of p.targets ?? []) queries.push({ where: `${file}: ${p.title}`, expr: t.expr });
    for (const v of model.templating.list) {
      // label_values(<series selector>, <label>): Grafana's variable query around a selector
      const inner = /^label_values\((.*),\s*\w+\)$/.exec(v.definition ?? '');
      if (v.type === 'query')
        queries.push({ where: `${file}: variable ${v.name}`, expr: inner ? inner[1] : v.definition });
    }
  }
  const rule = objs.find((o) => o.kind === 'PrometheusRule');
  for (const g of rule.spec.groups) for (const r of g.rules) queries.push({ where: `alert ${r.alert}`, expr: r.expr });
  return { dashboards, queries };
}
