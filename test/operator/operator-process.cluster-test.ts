// cortex-operator as a process on a real control plane (operator-suite.ts): /metrics, /healthz
// and its JSON logs, a restart that writes no child, and leader election (a standby that does
// nothing until the leader is killed, then takes over within the 3 s lease). The APIs they look
// at are made in `before`: one live, one refused because its Service is someone else's.
// Not part of `npm test` (a cold machine builds Kubernetes first): `npm run test:cluster`.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, test } from 'node:test';
import type { Cluster } from '../cluster/cluster.ts';
import { OPERATOR_NS } from '../helpers/identity.ts';
import { waitFor } from '../helpers/wait.ts';
import {
  NS,
  childWrites,
  metricValue,
  operatorSuite,
  realtimeApi,
  reconciles,
  type Obj,
  type Operator,
} from './operator-suite.ts';

describe('cortex-operator on a real control plane', { concurrency: false }, () => {
  const suite = operatorSuite('cortex-operator-process-test');
  const { startOperator, running, k, get, apply, waitStatus } = suite;
  let cluster: Cluster;
  let leader: Operator;
  before(async () => {
    cluster = suite.cluster;
    leader = suite.first;
    // a reconcile that succeeds (children applied) and one that is requeued: the Service is not the API's
    await apply(realtimeApi('iris', { compute: { cpu: '500m', mem: '256Mi' }, autoscaling: { minReplicas: 2 } }));
    await k(['create', 'service', 'clusterip', 'taken', '-n', NS, '--tcp=81:81']);
    await apply(realtimeApi('taken', {}));
    await waitStatus('iris', 'live');
    await waitStatus('taken', 'error');
  });

  test(
    '/metrics and /healthz on the health port: ' +
      'reconciles by result, errors, duration, queue depth, watch restarts, leader',
    async () => {
      assert.equal((await fetch(`http://127.0.0.1:${leader.port}/healthz`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${leader.port}/readyz`)).status, 200);
      const text = await leader.metrics();
      assert.ok(metricValue(text, 'cortex_operator_reconciles_total', { result: 'success' }) > 0);
      assert.ok(metricValue(text, 'cortex_operator_reconciles_total', { result: 'requeue' }) > 0, 'taken: requeued');
      assert.match(text, /# TYPE cortex_operator_reconcile_errors_total counter/);
      assert.ok(metricValue(text, 'cortex_operator_reconcile_duration_seconds_count') > 0);
      assert.match(text, /^cortex_operator_workqueue_depth \d+/m);
      assert.match(text, /# TYPE cortex_operator_watch_restarts_total counter/);
      assert.equal(metricValue(text, 'cortex_operator_leader'), 1);
      assert.ok(metricValue(text, 'cortex_operator_writes_total', { kind: 'Service', verb: 'apply' }) > 0);
      // logs are JSON lines naming the API
      const line = leader.logs
        .map((l) => {
          try {
            return JSON.parse(l);
          } catch {
            return undefined;
          }
        })
        .find((l) => l?.message === 'status');
      assert.ok(line && line.api && line.time && line.level, 'a structured status line with the API key');
    },
  );

  test('a restarted operator does no duplicate work: everything up to date, no child is written', async () => {
    const rvs = async () =>
      (
        await k([
          'get',
          'deployments,services,hpa',
          '-n',
          NS,
          '-l',
          'cortex.dev/api',
          '-o',
          'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.generation}{"\\n"}{end}',
        ])
      ).trim();
    const before = await rvs();
    leader.proc.kill('SIGTERM');
    await leader.proc;
    assert.ok(
      leader.logs.some((l) => l.includes('released the lease')),
      'a graceful stop gives the lease up',
    );
    const b = await startOperator('b');
    leader = b;
    await running(b);
    const apis = (await cluster.kubectl.json<{ items: Obj[] }>(['get', 'realtimeapis', '-n', NS])).items.length;
    await waitFor('every API reconciled once', async () => reconciles(await b.metrics()) >= apis, 20_000);
    await sleep(1000);
    const text = await b.metrics();
    assert.equal(
      childWrites(text),
      0,
      `no create/apply of children:\n${text
        .split('\n')
        .filter((l) => l.startsWith('cortex_operator_writes_total'))
        .join('\n')}\n${b.logs.filter((l) => l.includes('differs')).join('\n')}`,
    );
    assert.equal(await rvs(), before, "no child's generation moved");
    leader = b;
  });

  test(
    'leader election: a standby does nothing; ' +
      'when the leader dies it takes over within the lease and reconciles a new API',
    async () => {
      const standby = await startOperator('c');
      const old = leader;
      await waitFor(
        'the standby to wait for the lease',
        async () => standby.logs.some((l) => l.includes('waiting for the lease')),
        20_000,
      );
      await sleep(2000);
      let text = await standby.metrics();
      assert.equal(metricValue(text, 'cortex_operator_leader'), 0);
      assert.equal(reconciles(text), 0, 'the standby reconciles nothing');
      assert.ok(!standby.logs.some((l) => l.includes('"running"')), 'no informers or workers on the standby');
      const lease = await get('lease', 'cortex-operator', OPERATOR_NS);
      assert.match(lease.spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'MicroTime');
      assert.equal(lease.spec.leaseDurationSeconds, 3);
      assert.ok(lease.spec.holderIdentity && standby.logs.every((l) => !l.includes(`became the leader`)));

      old.proc.kill('SIGKILL');
      const killedAt = Date.now();
      await apply(realtimeApi('after-failover', { compute: { cpu: '100m', mem: '64Mi' } }));
      await waitFor(
        'the standby to lead',
        async () => standby.logs.some((l) => l.includes('became the leader')),
        15_000,
      );
      const tookOver = Date.now() - killedAt;
      assert.ok(tookOver < 3000 + 2000 + 2000, `took over after ${tookOver} ms (lease 3 s)`);
      await waitFor("the new API's Deployment", () => get('deployment', 'after-failover'), 20_000);
      await waitStatus('after-failover', 'live', 60_000);
      text = await standby.metrics();
      assert.equal(metricValue(text, 'cortex_operator_leader'), 1);
      assert.ok(reconciles(text) > 0);
      const taken = await get('lease', 'cortex-operator', OPERATOR_NS);
      assert.ok(taken.spec.leaseTransitions >= 1);
      leader = standby;
      assert.ok(!old.logs.some((l) => l.includes('lost the lease')), 'killed, not stopped');
    },
  );
});
