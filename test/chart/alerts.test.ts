// The chart's alerting rules (templates/prometheusrule.yaml) as Prometheus evaluates them: the
// rendered PrometheusRule's groups are run by `promtool test rules` against input series shaped
// like the replicas' and kube-state-metrics' (the labels they really have), for each alert one
// case where it fires (with its labels and annotations) and cases where it must not.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { helmOnChart, renderChart } from '../helpers/chart.ts';
import { NO_PROMTOOL, PROMTOOL } from '../helpers/promql.ts';

const KSM = 'job="kube-state-metrics"';
const ksmLabels = { job: 'kube-state-metrics', namespace: 'ml' };
/** The HPA the operator makes for an API (operator/reconcilers/hpa.ts), as kube-state-metrics shows it. */
const cortexHpa = (api: string) =>
  `kube_horizontalpodautoscaler_spec_target_metric{${KSM}, namespace="ml", horizontalpodautoscaler="${api}", ` +
  `metric_name="cortex_in_flight_requests", metric_target_type="average"}`;
const pod = (api: string) => `namespace="ml", pod="${api}-7d9f8b6c5-x2x4q", api="${api}"`;

interface Case {
  series: { series: string; values: string }[];
  at: string;
  alert: string;
  expected: { exp_labels: Record<string, string>; exp_annotations: Record<string, string> }[];
}

describe('the alerting rules in the chart', { skip: NO_PROMTOOL }, () => {
  let dir: string;
  /** Rules of the PrometheusRule rendered with these --set values, written as a rule file. */
  const rulesFile = async (name: string, set: string[] = []) => {
    const objs = await renderChart(
      ['prometheusRule.enabled=true', ...set],
      ['--show-only', 'templates/prometheusrule.yaml'],
    );
    assert.equal(objs.length, 1);
    assert.equal(objs[0].kind, 'PrometheusRule');
    const file = path.join(dir, name);
    writeFileSync(file, stringify({ groups: objs[0].spec.groups }));
    return file;
  };
  let rules: string;
  const promtest = async (c: Case, file = rules) => {
    const testFile = path.join(dir, `test-${c.alert}-${Math.random().toString(36).slice(2)}.yaml`);
    const spec = {
      rule_files: [file],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: c.series,
          alert_rule_test: [{ eval_time: c.at, alertname: c.alert, exp_alerts: c.expected }],
        },
      ],
    };
    writeFileSync(testFile, stringify(spec));
    const r = await execa(PROMTOOL, ['test', 'rules', testFile], { reject: false });
    assert.equal(r.exitCode, 0, `promtool test rules:\n${r.stdout}\n${r.stderr}`);
  };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cortex-alerts-'));
    rules = await rulesFile('rules.yaml');
    const r = await execa(PROMTOOL, ['check', 'rules', rules], { reject: false });
    assert.equal(r.exitCode, 0, `promtool check rules:\n${r.stdout}\n${r.stderr}`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const deployment = (api: string, desired: string, available: string) => [
    { series: `kube_deployment_spec_replicas{${KSM}, namespace="ml", deployment="${api}"}`, values: desired },
    {
      series: `kube_deployment_status_replicas_available{${KSM}, namespace="ml", deployment="${api}"}`,
      values: available,
    },
  ];

  test('CortexAPIDown fires when an API wants replicas and none has been ready for 5 minutes', async () => {
    await promtest({
      series: [...deployment('iris', '1x10', '0x10'), { series: cortexHpa('iris'), values: '1x10' }],
      at: '6m',
      alert: 'CortexAPIDown',
      expected: [
        {
          exp_labels: { ...ksmLabels, deployment: 'iris', api: 'iris', severity: 'critical' },
          exp_annotations: {
            summary: 'Cortex API ml/iris has no ready replica',
            description:
              'ml/iris wants 1 replica(s) and none has been ready for 5m; see cortex get and kubectl describe rapi.',
          },
        },
      ],
    });
  });

  test('CortexAPIDown stays quiet: scaled to zero, not down long enough, back up, or not a Cortex API', async () => {
    await promtest({
      series: [
        ...deployment('asleep', '0x10', '0x10'),
        { series: cortexHpa('asleep'), values: '1x10' },
        ...deployment('waking', '0 0 0 0 1 1 1 1 1 1 1', '0 0 0 0 0 0 0 0 1 1 1'),
        { series: cortexHpa('waking'), values: '1x10' },
        ...deployment('recovered', '1x10', '0 0 0 0 0 0 1 1 1 1 1'),
        { series: cortexHpa('recovered'), values: '1x10' },
        // someone else's Deployment whose HPA scales on CPU
        ...deployment('web', '1x10', '0x10'),
        {
          series:
            'kube_horizontalpodautoscaler_spec_target_metric' +
            `{${KSM}, namespace="ml", horizontalpodautoscaler="web", metric_name="cpu", ` +
            'metric_target_type="utilization"}',
          values: '80x10',
        },
      ],
      at: '10m',
      alert: 'CortexAPIDown',
      expected: [],
    });
  });

  const requests = (api: string, errorsPerMinute: number, okPerMinute: number) => [
    { series: `cortex_requests_total{${pod(api)}, status_code="500"}`, values: `0+${errorsPerMinute}x20` },
    { series: `cortex_requests_total{${pod(api)}, status_code="200"}`, values: `0+${okPerMinute}x20` },
  ];

  test('CortexAPIErrorRatio fires when over 5% of the answers are 5xx for 5 minutes, and not below', async () => {
    await promtest({
      series: [...requests('flaky', 15, 45), ...requests('fine', 1, 99)],
      at: '15m',
      alert: 'CortexAPIErrorRatio',
      expected: [
        {
          exp_labels: { namespace: 'ml', api: 'flaky', severity: 'warning' },
          exp_annotations: {
            summary: 'Cortex API ml/flaky answers with 5xx',
            description: '25% of the requests to ml/flaky got a 5xx (threshold 0.05, over 5m); see cortex logs.',
          },
        },
      ],
    });
  });

  /** Requests per minute into the bucket whose upper bound is `le` (and every larger one). */
  const latency = (api: string, le: string, perMinute = 60) =>
    ['0.1', '0.5', '1', '2.5', '+Inf'].map((b) => ({
      series: `cortex_request_duration_seconds_bucket{${pod(api)}, le="${b}"}`,
      values: Number(b) >= Number(le) || b === '+Inf' ? `0+${perMinute}x30` : '0x30',
    }));

  test('CortexAPILatencyP99 fires when the p99 stays over its threshold for 10 minutes, not when fast', async () => {
    await promtest({
      series: [...latency('slow', '2.5'), ...latency('fast', '0.1')],
      at: '20m',
      alert: 'CortexAPILatencyP99',
      expected: [
        {
          exp_labels: { namespace: 'ml', api: 'slow', severity: 'warning' },
          // every request in (1s, 2.5s]: histogram_quantile interpolates 1 + 1.5 * 0.99
          exp_annotations: {
            summary: 'Cortex API ml/slow is slow',
            description: 'The p99 latency of ml/slow is 2.485s (threshold 1s).',
          },
        },
      ],
    });
  });

  test('CortexAPILatencyP99 reads its threshold from values', async () => {
    const lenient = await rulesFile('lenient.yaml', ['prometheusRule.latencyP99.seconds=3']);
    await promtest({ series: latency('slow', '2.5'), at: '20m', alert: 'CortexAPILatencyP99', expected: [] }, lenient);
  });

  const hpa = (api: string, min: number, max: number, current: string) => {
    const of = (metric: string) =>
      `kube_horizontalpodautoscaler_${metric}{${KSM}, namespace="ml", horizontalpodautoscaler="${api}"}`;
    return [
      { series: of('spec_min_replicas'), values: `${min}x40` },
      { series: of('spec_max_replicas'), values: `${max}x40` },
      { series: of('status_current_replicas'), values: current },
      { series: cortexHpa(api), values: '1x40' },
    ];
  };

  test('CortexAPIReplicasAtMax fires after 30 minutes at max_replicas, not for a fixed size or below max', async () => {
    await promtest({
      series: [...hpa('busy', 1, 5, '5x40'), ...hpa('fixed', 3, 3, '3x40'), ...hpa('roomy', 1, 5, '4x40')],
      at: '35m',
      alert: 'CortexAPIReplicasAtMax',
      expected: [
        {
          // the max-vs-current comparison `on (namespace, horizontalpodautoscaler)` keeps only those labels
          exp_labels: { namespace: 'ml', horizontalpodautoscaler: 'busy', api: 'busy', severity: 'warning' },
          exp_annotations: {
            summary: 'Cortex API ml/busy is at its max_replicas',
            description:
              'ml/busy has run 5 replicas, its autoscaling.max_replicas, for 30m: raise it or expect queueing.',
          },
        },
      ],
    });
  });

  test('CortexAPIReplicasAtMax waits its "for": 20 minutes at max is not yet an alert', async () => {
    await promtest({ series: hpa('busy', 1, 5, '5x40'), at: '20m', alert: 'CortexAPIReplicasAtMax', expected: [] });
  });

  test('CortexAPIWorkersRestarting fires on more than 3 worker restarts in 15 minutes, not on one', async () => {
    await promtest({
      series: [
        { series: `cortex_worker_restarts_total{${pod('crashy')}}`, values: '0 0 1 2 3 4 5 6 6 6 6' },
        { series: `cortex_worker_restarts_total{${pod('steady')}}`, values: '0 0 1 1 1 1 1 1 1 1 1' },
      ],
      at: '10m',
      alert: 'CortexAPIWorkersRestarting',
      expected: [
        {
          exp_labels: { namespace: 'ml', api: 'crashy', severity: 'warning' },
          exp_annotations: {
            summary: 'Predictor workers of Cortex API ml/crashy keep restarting',
            description:
              '6 workers of ml/crashy exited unexpectedly and were restarted in the last 15m; see cortex logs.',
          },
        },
      ],
    });
  });

  test('helm lint --strict passes with the rules and dashboards on; bad thresholds are refused by path', async () => {
    const lint = await helmOnChart('lint', ['prometheusRule.enabled=true', 'dashboards.enabled=true'], ['--strict']);
    assert.equal(lint.exitCode, 0, `${lint.stdout}\n${lint.stderr}`);
    const cases: [string, RegExp][] = [
      ['prometheusRule.errorRatio.threshold=2', /prometheusRule\.errorRatio\.threshold/],
      ['prometheusRule.latencyP99.seconds=0', /prometheusRule\.latencyP99\.seconds/],
      ['prometheusRule.apiDown.for=5 minutes', /prometheusRule\.apiDown\.for/],
      ['prometheusRule.workerRestarts.bogus=1', /prometheusRule\.workerRestarts.*bogus/],
    ];
    for (const [set, message] of cases) {
      const r = await helmOnChart('template', ['prometheusRule.enabled=true', set]);
      assert.notEqual(r.exitCode, 0, set);
      assert.match(r.stderr, message, set);
    }
  });

  test('an alert switched off in values is not rendered', async () => {
    const objs = await renderChart(
      ['prometheusRule.enabled=true', 'prometheusRule.workerRestarts.enabled=false'],
      ['--show-only', 'templates/prometheusrule.yaml'],
    );
    const names = objs[0].spec.groups[0].rules.map((r: { alert: string }) => r.alert);
    assert.deepEqual(names, ['CortexAPIDown', 'CortexAPIErrorRatio', 'CortexAPILatencyP99', 'CortexAPIReplicasAtMax']);
  });
});
