// The operator metrics the chart's dashboards and alerts read are on a running operator's
// /metrics: the operator against a real control plane, with its activator and its custom metrics
// API on (what the chart runs by default), scraped on its health port.
// test/chart/dashboards.test.ts checks the runtime's and kube-state-metrics' names.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Cluster } from '../cluster/cluster.ts';
import { chartQueries } from '../helpers/chart.ts';
import { freePort } from '../helpers/local.ts';
import { loopbackScalingArgs, startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { exportedNames, metricNames } from '../helpers/promql.ts';
import { startTestCluster } from '../helpers/test-cluster.ts';

const BUILD_TIMEOUT_MS = 60 * 60_000;

describe('the dashboards name operator metrics a running operator exports', () => {
  let dir: string;
  let cluster: Cluster;
  let operator: OperatorProcess | undefined;

  before(
    async () => {
      let poolsFile: string;
      ({ dir, poolsFile, cluster } = await startTestCluster('cortex-dashboards-test', 'ml'));
      operator = await startOperator(cluster, dir, {
        nodePoolsFile: poolsFile,
        extraArgs: await loopbackScalingArgs(await freePort(), '30s'),
      });
    },
    { timeout: BUILD_TIMEOUT_MS },
  );
  after(async () => {
    await operator?.stop();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every cortex_operator_ metric in a dashboard or alert is on the operator\u2019s /metrics', async () => {
    const { queries } = await chartQueries();
    const used = new Map<string, string>();
    for (const q of queries)
      for (const n of metricNames(q.expr)) if (n.startsWith('cortex_operator_')) used.set(n, q.where);
    assert.ok(used.size >= 8, `operator metrics used: ${[...used.keys()].join(', ')}`);
    const text = await (await fetch(`http://127.0.0.1:${operator!.healthPort}/metrics`)).text();
    const { declared } = exportedNames(text);
    const missing = [...used].filter(([n]) => !declared.has(n)).map(([n, where]) => `${n} (${where})`);
    assert.deepEqual(missing, [], 'used in the chart but not on the operator\u2019s /metrics');
  });
});
