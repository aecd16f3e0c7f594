// The chart's Grafana dashboards and alerts read metrics that exist: every PromQL query in them
// (parsed with Prometheus's grammar) names a series a real `cortex serve` replica exports (scraped
// after plain and streamed requests, so its histograms have samples), one of kube-state-metrics'
// listed below (docs/observability.md says which version), or an operator metric, which
// test/chart/dashboards.cluster-test.ts checks against a running operator's /metrics.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chartQueries, renderChart, type ChartQuery, type Rendered } from '../helpers/chart.ts';
import { execa } from 'execa';
import { stringify } from 'yaml';
import {
  NO_PROMTOOL,
  PROMTOOL,
  exportedNames,
  metricNames,
  withGrafanaVariables,
  type Exported,
} from '../helpers/promql.ts';
import { postJson, repoRoot, serve, type Served } from '../helpers/serve.ts';

/**
 * The kube-state-metrics series the dashboards and alerts use (kube-state-metrics >= 2.2, the
 * release that added kube_horizontalpodautoscaler_spec_target_metric); docs/observability.md
 * lists the same. Names from its docs/metrics/workload/{deployment,horizontalpodautoscaler,pod}-metrics.md.
 */
const KUBE_STATE_METRICS = [
  'kube_deployment_spec_replicas',
  'kube_deployment_status_replicas_available',
  'kube_horizontalpodautoscaler_spec_max_replicas',
  'kube_horizontalpodautoscaler_spec_min_replicas',
  'kube_horizontalpodautoscaler_spec_target_metric',
  'kube_horizontalpodautoscaler_status_current_replicas',
  'kube_pod_container_status_restarts_total',
];

describe('the dashboards and alerts name metrics that are exported', () => {
  let queries: ChartQuery[];
  let dashboards: Record<string, Rendered>;
  let replica: Served;
  let scraped: Exported;
  /** Metric name → where it is used. */
  const used = new Map<string, string[]>();

  before(async () => {
    ({ queries, dashboards } = await chartQueries());
    for (const q of queries) {
      for (const name of metricNames(q.expr)) used.set(name, [...(used.get(name) ?? []), q.where]);
    }
    replica = await serve(path.join(repoRoot, 'test', 'fixtures', 'streaming'), { args: ['--api', 'streamer'] });
    assert.equal((await postJson(replica.url, { mode: 'plain' })).status, 200);
    const streamed = await postJson(replica.url, { mode: 'text', n: 3 });
    assert.equal(await streamed.text(), 'token 0\ntoken 1\ntoken 2\n');
    scraped = exportedNames(await (await fetch(`${replica.url}/metrics`)).text());
  });
  after(() => replica?.stop());

  test('the dashboards ConfigMap is off by default and labelled for the Grafana sidecar when on', async () => {
    const off = await renderChart();
    assert.equal(off.filter((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboards')).length, 0);
    assert.equal(off.filter((o) => o.kind === 'PrometheusRule').length, 0);
    const on = await renderChart(['dashboards.enabled=true', 'dashboards.annotations.grafana_folder=Cortex']);
    const cm = on.find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboards'));
    assert.equal(cm.metadata.labels.grafana_dashboard, '1');
    assert.equal(cm.metadata.annotations.grafana_folder, 'Cortex');
    assert.deepEqual(Object.keys(cm.data).sort(), ['cortex-api.json', 'cortex-cluster.json']);
  });

  test('every panel has a query, a unique id and fits the 24-column grid', () => {
    for (const [file, model] of Object.entries(dashboards)) {
      const ids = new Set<number>();
      for (const p of model.panels) {
        assert.ok(!ids.has(p.id), `${file}: panel id ${p.id} twice`);
        ids.add(p.id);
        assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${file}: ${p.title} is wider than the grid`);
        if (p.type !== 'row') assert.ok(p.targets.length > 0, `${file}: ${p.title} has no query`);
      }
    }
    assert.equal(new Set(Object.values(dashboards).map((d) => d.uid)).size, Object.keys(dashboards).length);
  });

  test('the dashboards cover what the issue asks for', () => {
    const api = dashboards['cortex-api.json'];
    const exprs = api.panels.flatMap((p: Rendered) => (p.targets ?? []).map((t: Rendered) => t.expr)).join('\n');
    for (const name of [
      'cortex_requests_total',
      'cortex_request_duration_seconds_bucket',
      'cortex_in_flight_requests',
      'kube_horizontalpodautoscaler_spec_target_metric',
      'kube_deployment_spec_replicas',
      'kube_deployment_status_replicas_available',
      'cortex_queue_length',
      'cortex_batch_size_bucket',
      'cortex_worker_restarts_total',
      'cortex_operator_activator_cold_start_seconds_bucket',
      'cortex_stream_first_byte_seconds_bucket',
    ]) {
      assert.ok(exprs.includes(name), `the API dashboard reads ${name}`);
    }
  });

  test('Prometheus itself parses every dashboard query (promtool check rules)', { skip: NO_PROMTOOL }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cortex-dashboards-'));
    try {
      const file = path.join(dir, 'queries.yaml');
      const rules = queries
        .filter((q) => !q.where.startsWith('alert '))
        .map((q, i) => ({ record: `cortex:dashboard_query_${i}`, expr: withGrafanaVariables(q.expr) }));
      writeFileSync(file, stringify({ groups: [{ name: 'dashboards', rules }] }));
      const r = await execa(PROMTOOL, ['check', 'rules', file], { reject: false });
      assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('every runtime metric in a query is exported by a running replica', () => {
    const runtime = [...used.keys()].filter((n) => n.startsWith('cortex_') && !n.startsWith('cortex_operator_'));
    assert.ok(runtime.length >= 10, `runtime metrics used: ${runtime.join(', ')}`);
    const missing = runtime.filter((n) => !scraped.declared.has(n)).map((n) => `${n} (${used.get(n)!.join('; ')})`);
    assert.deepEqual(missing, [], 'used in the chart but not exported by cortex serve');
  });

  test('the requests made the histograms and counters the panels plot', () => {
    for (const name of [
      'cortex_requests_total',
      'cortex_request_duration_seconds_bucket',
      'cortex_stream_first_byte_seconds_bucket',
      'cortex_stream_duration_seconds_bucket',
      'cortex_in_flight_requests',
      'cortex_queue_length',
      'cortex_workers_ready',
      // zero from the start, so increase() sees the first restart and rate() the first rejection
      'cortex_worker_restarts_total',
      'cortex_rejected_requests_total',
    ]) {
      assert.ok(scraped.sampled.has(name), `${name} has samples`);
    }
  });

  test('every other metric is a listed kube-state-metrics one or the operator\u2019s', () => {
    const other = [...used.keys()].filter((n) => !n.startsWith('cortex_'));
    const unknown = other.filter((n) => !KUBE_STATE_METRICS.includes(n));
    assert.deepEqual(unknown, [], 'not in the list of kube-state-metrics series the chart depends on');
    assert.deepEqual(
      KUBE_STATE_METRICS.filter((n) => !used.has(n)),
      [],
      'listed but unused: keep the list exact',
    );
    const docs = readFileSync(path.join(repoRoot, 'docs', 'observability.md'), 'utf8');
    for (const n of KUBE_STATE_METRICS) assert.ok(docs.includes(n), `docs/observability.md lists ${n}`);
  });
});
