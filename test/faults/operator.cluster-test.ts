// The operator's faults on the real control plane (test/cluster: etcd, kube-apiserver,
// controller-manager, scheduler, kwok), with the operator as a local process impersonating its
// ServiceAccount (test/helpers/operator.ts):
// 1. the API server stopped for APISERVER_DOWN_MS and started again (same port, same etcd) under a
//    running operator: it recovers by itself, reconciles what changed right after the restart, and
//    every API ends with exactly one Deployment, Service and HPA and a correct status;
// 2. the operator SIGKILLed while a burst of RealtimeAPIs is being reconciled, then started again:
//    nothing is left half applied;
// 3. two operators with leader election under a stream of 200 changes (creates and spec patches),
//    the leader SIGKILLed in the middle: the standby takes over, nothing is lost, and no Deployment
//    ever goes back to an older template (a stale or duplicate apply would) nor gets more template
//    changes than the specs it was given.
// Each test prints its figures (docs/reliability.md, "Operator"). Part of `npm run test:cluster`.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster } from '../cluster/cluster.ts';
import { spawnOperator as spawnOperatorProcess, startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { startTestCluster } from '../helpers/test-cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import { SPEC_HASH_ANNOTATION } from '../../operator/reconcilers/deployment.ts';
import { RUNTIME_SPEC_ENV } from '../../operator/reconcilers/runtime-spec.ts';
import { hashOf } from '../../operator/reconcilers/types.ts';

const BUILD_TIMEOUT_MS = 60 * 60_000;
const NS = 'ml';
/** How long the API server stays down in test 1 (the issue asks for 30 s). */
const APISERVER_DOWN_MS = 30_000;
const APIS_PATH = `/apis/cortex.dev/v1alpha1/namespaces/${NS}/realtimeapis`;
const CHILD_KINDS = {
  Deployment: `/apis/apps/v1/namespaces/${NS}/deployments`,
  Service: `/api/v1/namespaces/${NS}/services`,
  HorizontalPodAutoscaler: `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers`,
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from the API server
type Obj = any;

const secs = (ms: number) => (ms / 1000).toFixed(1);
const figure = (line: string) => process.stdout.write(`# figure: ${line}\n`);

/** A small RealtimeAPI whose template carries `v` (predictor.config.v): each new v is a new pod template. */
function realtimeApi(name: string, v: number): Obj {
  return {
    apiVersion: 'cortex.dev/v1alpha1',
    kind: 'RealtimeAPI',
    metadata: { name, namespace: NS },
    spec: {
      predictor: { type: 'python', path: 'predictor.py', image: 'fake.invalid/iris:1', config: { v } },
      compute: { cpu: '10m', mem: '16Mi' },
      autoscaling: { minReplicas: 1, maxReplicas: 2 },
    },
  };
}

describe('operator faults on a real control plane', { concurrency: false }, () => {
  let dir: string;
  let cluster: Cluster;
  let poolsFile: string;
  let tls: { ca: Buffer; cert: Buffer; key: Buffer };
  /** Every operator process started here (stopped in after(), their logs printed when a test failed). */
  const operators: { name: string; op: OperatorProcess }[] = [];
  /** The predictor.config.v each API must end with. */
  const expected = new Map<string, number>();

  /** A request with the admin identity (faster than one kubectl per change); the parsed answer. */
  function kube(method: string, urlPath: string, body?: unknown, contentType = 'application/json'): Promise<Obj> {
    const url = new URL(urlPath, cluster.server);
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        { ...tls, method, headers: { 'Content-Type': contentType, Accept: 'application/json' }, timeout: 30_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            if ((res.statusCode ?? 0) >= 300) reject(new Error(`${method} ${urlPath}: ${res.statusCode} ${text}`));
            else resolve(text ? JSON.parse(text) : undefined);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: timed out`)));
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }
  const createApi = async (name: string, v: number) => {
    await kube('POST', APIS_PATH, realtimeApi(name, v));
    expected.set(name, v);
  };
  const patchApi = async (name: string, v: number) => {
    await kube(
      'PATCH',
      `${APIS_PATH}/${name}`,
      { spec: { predictor: { config: { v } } } },
      'application/merge-patch+json',
    );
    expected.set(name, v);
  };

  /** An operator process like startOperator's (the same identity and flags), with `extra` flags. */
  async function spawnOperator(name: string, extra: string[]): Promise<OperatorProcess> {
    // operator.kubeconfig: written by startOperator (operatorIdentity) in the first test
    const op = await spawnOperatorProcess(path.join(dir, 'operator.kubeconfig'), extra);
    operators.push({ name, op });
    return op;
  }
  const isRunning = (op: OperatorProcess) => op.logs.some((l) => l.includes('"running"'));
  const kill = async (op: OperatorProcess) => {
    process.kill(op.proc.pid!, 'SIGKILL');
    const result = await op.proc;
    assert.equal(result.signal, 'SIGKILL');
  };
  const metric = async (op: OperatorProcess, name: string) => {
    const text = await (await fetch(`http://127.0.0.1:${op.healthPort}/metrics`)).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith(name))
      .reduce((n, l) => n + Number(l.split(/\s+/).at(-1)), 0);
  };

  /** Whether every API in `expected` is reconciled: status live for its generation, its Deployment at its v. */
  async function converged(): Promise<boolean> {
    const apis: Obj[] = (await kube('GET', APIS_PATH)).items;
    const deployments = new Map<string, Obj>(
      (await kube('GET', CHILD_KINDS.Deployment)).items.map((d: Obj) => [d.metadata.name, d]),
    );
    if (apis.length !== expected.size) return false;
    return apis.every((a) => {
      const d = deployments.get(a.metadata.name);
      return (
        a.status?.observedGeneration === a.metadata.generation &&
        a.status?.status === 'live' &&
        d !== undefined &&
        runtimeSpecOf(d).spec.predictor.config.v === expected.get(a.metadata.name)
      );
    });
  }
  const runtimeSpecText = (d: Obj): string =>
    d.spec.template.spec.containers[0].env.find((e: Obj) => e.name === RUNTIME_SPEC_ENV).value;
  const runtimeSpecOf = (d: Obj): Obj => JSON.parse(runtimeSpecText(d));
  const waitConverged = async (what: string, timeoutMs = 180_000) => {
    await waitFor(what, converged, timeoutMs).catch(async (error: Error) => {
      const apis: Obj[] = (await kube('GET', APIS_PATH)).items;
      const behind = apis
        .filter((a) => a.status?.observedGeneration !== a.metadata.generation || a.status?.status !== 'live')
        .map((a) => `${a.metadata.name} gen ${a.metadata.generation} status ${JSON.stringify(a.status)}`);
      throw new Error(`${error.message}; ${behind.length} behind:\n${behind.slice(0, 5).join('\n')}`);
    });
  };

  /**
   * Every API has exactly one Deployment, Service and HPA, named after it and controlled by it;
   * no child belongs to no API; each Deployment's template is the API's final spec (its
   * CORTEX_API_SPEC has the expected v and the spec hash annotation is that spec's hash); every
   * status is live with observedGeneration == generation (also in its conditions).
   */
  async function assertAllReconciled(): Promise<void> {
    const apis: Obj[] = (await kube('GET', APIS_PATH)).items;
    assert.deepEqual(apis.map((a) => a.metadata.name).sort(), [...expected.keys()].sort());
    const byUid = new Map<string, Obj>(apis.map((a) => [a.metadata.uid, a]));
    for (const [kind, url] of Object.entries(CHILD_KINDS)) {
      const children: Obj[] = (await kube('GET', url)).items.filter((c: Obj) => c.metadata.labels?.['cortex.dev/api']);
      const perApi = new Map<string, Obj[]>();
      for (const c of children) {
        const owners = (c.metadata.ownerReferences ?? []).filter((r: Obj) => r.controller === true);
        assert.equal(owners.length, 1, `${kind} ${c.metadata.name} has one controller`);
        const owner = byUid.get(owners[0].uid);
        assert.ok(owner, `${kind} ${c.metadata.name}'s owner ${owners[0].uid} is a live RealtimeAPI`);
        assert.equal(owners[0].kind, 'RealtimeAPI');
        assert.equal(owners[0].name, owner.metadata.name);
        assert.equal(c.metadata.name, owner.metadata.name);
        perApi.set(owner.metadata.name, [...(perApi.get(owner.metadata.name) ?? []), c]);
      }
      for (const a of apis) assert.equal(perApi.get(a.metadata.name)?.length, 1, `one ${kind} for ${a.metadata.name}`);
      if (kind !== 'Deployment') continue;
      for (const d of children) {
        const spec = runtimeSpecOf(d);
        assert.equal(spec.spec.predictor.config.v, expected.get(d.metadata.name), `${d.metadata.name}'s template`);
        assert.equal(d.spec.template.metadata.annotations[SPEC_HASH_ANNOTATION], hashOf(runtimeSpecText(d)));
      }
    }
    for (const a of apis) {
      assert.equal(a.status.observedGeneration, a.metadata.generation, `${a.metadata.name} observed`);
      assert.equal(a.status.status, 'live', a.metadata.name);
      for (const c of a.status.conditions) assert.equal(c.observedGeneration, a.metadata.generation);
    }
  }

  before(
    async () => {
      ({ dir, poolsFile, cluster } = await startTestCluster('cortex-operator-faults', NS));
      const pki = path.join(cluster.stateDir, 'pki');
      tls = {
        ca: readFileSync(path.join(pki, 'ca.crt')),
        cert: readFileSync(path.join(pki, 'admin.crt')),
        key: readFileSync(path.join(pki, 'admin.key')),
      };
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    for (const { op } of operators) op.proc.kill('SIGTERM');
    for (const { op } of operators) await op.proc.catch(() => undefined);
    if (process.exitCode || process.env.CORTEX_TEST_OPERATOR_LOG) {
      for (const { name, op } of operators)
        process.stderr.write(`--- operator ${name} log (last 40 lines) ---\n${op.logs.slice(-40).join('\n')}\n`);
    }
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test(
    `the API server down for ${APISERVER_DOWN_MS / 1000} s: the operator recovers by itself and reconciles ` +
      'what changed right after the restart; one child of each kind, statuses right',
    { timeout: 300_000 },
    async () => {
      const op = await startOperator(cluster, dir, { nodePoolsFile: poolsFile });
      operators.push({ name: 'down', op });
      for (let i = 0; i < 6; i++) await createApi(`down-${i}`, 1);
      await waitConverged('the first APIs to be live');
      await assertAllReconciled();
      const restartsBefore = await metric(op, 'cortex_operator_watch_restarts_total');

      const restart = await cluster.restartApiserver({ downMs: APISERVER_DOWN_MS });
      assert.equal(op.proc.exitCode, null, 'the operator outlived the API server');
      // right after the restart: spec changes, a new API, and a deleted child
      await patchApi('down-0', 2);
      await patchApi('down-1', 2);
      await createApi('down-6', 1);
      await kube('DELETE', `${CHILD_KINDS.Service}/down-2`);
      await kube('DELETE', `${CHILD_KINDS.HorizontalPodAutoscaler}/down-3`);
      // the operator's own part: the deleted children back and the changed templates applied
      const operatorAt = await waitFor(
        'the operator to redo what changed',
        async () => {
          await kube('GET', `${CHILD_KINDS.Service}/down-2`);
          await kube('GET', `${CHILD_KINDS.HorizontalPodAutoscaler}/down-3`);
          const v = async (name: string) =>
            runtimeSpecOf(await kube('GET', `${CHILD_KINDS.Deployment}/${name}`)).spec.predictor.config.v;
          return (await v('down-0')) === 2 && (await v('down-1')) === 2 && (await v('down-6')) === 1 && Date.now();
        },
        180_000,
      );
      // then the rollouts (controller-manager, scheduler and kwok recover from the outage too) and the statuses
      await waitConverged('the changes made after the restart to be reconciled');
      const caughtUp = Date.now() - restart.readyAt;
      await assertAllReconciled();
      assert.equal(op.proc.exitCode, null, 'the same operator process did it (no restart)');
      const readyz = await fetch(`http://127.0.0.1:${op.healthPort}/readyz`);
      assert.equal(readyz.status, 200, 'ready again');
      const restarts = (await metric(op, 'cortex_operator_watch_restarts_total')) - restartsBefore;
      assert.ok(restarts > 0, 'its watches broke and resumed (cortex_operator_watch_restarts_total)');
      const retries = op.logs.flatMap((l) => /failed, retrying in (\d+) ms/.exec(l)?.[1] ?? []).map(Number);
      figure(
        `apiserver down ${secs(restart.startedAt - restart.stoppedAt)} s ` +
          `(ready ${secs(restart.readyAt - restart.startedAt)} s after its start): ` +
          `the operator had redone the changes ${secs(operatorAt - restart.readyAt)} s after the API server was ` +
          `ready, every status live at its generation after ${secs(caughtUp)} s; ${restarts} watch restarts, ` +
          `${retries.length} list/watch retries logged, the longest backoff ${secs(Math.max(0, ...retries))} s; ` +
          `${expected.size} APIs with one Deployment/Service/HPA each`,
      );
      await op.stop();
    },
  );

  test(
    'the operator SIGKILLed mid-reconcile (a burst of 40 new APIs) and started again: nothing left half applied',
    { timeout: 300_000 },
    async () => {
      const first = await spawnOperator('kill-1', ['--no-leader-elect']);
      await waitFor('the operator to run', async () => isRunning(first), 90_000);
      const names = Array.from({ length: 40 }, (_, i) => `burst-${i}`);
      const creating = Promise.all(names.map((n) => createApi(n, 1)));
      // kill it once it has started on the burst: a few Deployments made, most APIs untouched
      await waitFor(
        'the first Deployments of the burst',
        async () =>
          (await kube('GET', CHILD_KINDS.Deployment)).items.filter((d: Obj) => d.metadata.name.startsWith('burst-'))
            .length >= 3,
        120_000,
      );
      await kill(first);
      const killedAt = Date.now();
      await creating;
      const done = async (kind: keyof typeof CHILD_KINDS) =>
        new Set<string>(
          (await kube('GET', CHILD_KINDS[kind])).items
            .map((c: Obj) => c.metadata.name as string)
            .filter((n: string) => n.startsWith('burst-')),
        );
      const [deps, svcs, hpas] = [
        await done('Deployment'),
        await done('Service'),
        await done('HorizontalPodAutoscaler'),
      ];
      const apis: Obj[] = (await kube('GET', APIS_PATH)).items.filter((a: Obj) => a.metadata.name.startsWith('burst-'));
      const complete = apis.filter((a) => a.status?.observedGeneration === a.metadata.generation).length;
      const half = names.filter(
        (n) => [deps, svcs, hpas].some((s) => s.has(n)) && ![deps, svcs, hpas].every((s) => s.has(n)),
      );
      assert.ok(complete < names.length, 'killed before the burst was reconciled');

      const second = await spawnOperator('kill-2', ['--no-leader-elect']);
      await waitConverged('the restarted operator to finish the burst');
      const took = Date.now() - killedAt;
      await assertAllReconciled();
      figure(
        `operator SIGKILLed during a burst of ${names.length} creates: at the kill ${deps.size} Deployments, ` +
          `${svcs.size} Services, ${hpas.size} HPAs, ${complete} statuses, ${half.length} APIs half applied; ` +
          `the restarted operator had all ${expected.size} APIs reconciled ${secs(took)} s after the kill, ` +
          'one child of each kind each',
      );
      await second.stop();
    },
  );

  /** Every event of the namespace's Deployments from `resourceVersion` on: per Deployment, (generation, v) in order. */
  function watchDeployments(resourceVersion: string) {
    const seen = new Map<string, { generation: number; v: number }[]>();
    const state = { ended: false, errors: [] as string[] };
    const url = new URL(`${CHILD_KINDS.Deployment}?watch=true&resourceVersion=${resourceVersion}`, cluster.server);
    let buffer = '';
    const req = https.get(url, tls, (res) => {
      res.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
          const event = JSON.parse(buffer.slice(0, i));
          buffer = buffer.slice(i + 1);
          if (event.type === 'ERROR' || event.type === 'DELETED') state.errors.push(JSON.stringify(event));
          if (event.type !== 'ADDED' && event.type !== 'MODIFIED') continue;
          const d = event.object;
          const list = seen.get(d.metadata.name) ?? [];
          list.push({ generation: d.metadata.generation, v: runtimeSpecOf(d).spec.predictor.config.v });
          seen.set(d.metadata.name, list);
        }
      });
      res.on('close', () => (state.ended = true));
    });
    req.on('error', (error) => state.errors.push(String(error)));
    return { seen, state, close: () => req.destroy() };
  }

  test(
    'leader failover under a stream of 200 changes: the standby takes over, nothing lost or applied twice',
    { timeout: 300_000 },
    async () => {
      const flags = ['--lease-duration', '3s', '--renew-deadline', '2s', '--retry-period', '500ms'];
      const pair = [await spawnOperator('elect-a', flags), await spawnOperator('elect-b', flags)];
      const leader = await waitFor('one of the two to lead', async () => pair.find(isRunning), 90_000);
      const standby = pair.find((op) => op !== leader)!;
      await waitFor('the other to wait for the lease', async () =>
        standby.logs.some((l) => l.includes('waiting for the lease')),
      );
      const watch = watchDeployments((await kube('GET', CHILD_KINDS.Deployment)).metadata.resourceVersion);

      const TOTAL = 200;
      const APIS = 40;
      const KILL_AT = 100;
      /** The specs each API was given (its create and every patch: each a new v). */
      const given = new Map<string, number>();
      let created = 0;
      let killedAt = 0;
      let tookOver: Promise<number> | undefined;
      const streamStart = Date.now();
      for (let i = 0; i < TOTAL; i++) {
        if (i === KILL_AT) {
          await kill(leader);
          killedAt = Date.now();
          tookOver = waitFor(
            'the standby to lead',
            async () => standby.logs.some((l) => l.includes('became the leader')) && Date.now(),
            60_000,
          );
        }
        if (created < APIS && i % 5 === 0) {
          const name = `flow-${created++}`;
          await createApi(name, 1);
          given.set(name, 1);
        } else {
          const name = `flow-${(i * 7) % created}`;
          const v = expected.get(name)! + 1;
          await patchApi(name, v);
          given.set(name, v);
        }
        await sleep(30);
      }
      const lastChangeAt = Date.now();
      const leadingAt = await tookOver!;
      await waitConverged('every change to be reconciled after the failover');
      const reconciledAt = Date.now();
      await assertAllReconciled();
      await sleep(2000); // the last watch events
      watch.close();
      assert.deepEqual(watch.state.errors, [], 'no watch error, no Deployment deleted');

      let templates = 0;
      for (const [name, specs] of given) {
        const events = watch.seen.get(name) ?? [];
        assert.ok(events.length > 0, `${name}'s Deployment was seen from its creation`);
        const vs = events.map((e) => e.v).filter((v, i, all) => i === 0 || v !== all[i - 1]);
        // a stale spec applied after a newer one (the old leader finishing late, or a replay)
        // would make the template go back
        for (let i = 1; i < vs.length; i++) assert.ok(vs[i] > vs[i - 1], `${name}'s templates in order: ${vs}`);
        const d = await kube('GET', `${CHILD_KINDS.Deployment}/${name}`);
        // each template change bumps the generation once; a duplicate apply that changed anything would too
        assert.equal(d.metadata.generation, vs.length, `${name}: generation = templates it went through (${vs})`);
        assert.ok(vs.length <= specs, `${name}: ${vs.length} templates for ${specs} specs given`);
        const revision = Number(d.metadata.annotations['deployment.kubernetes.io/revision']);
        assert.ok(revision >= 1 && revision <= vs.length, `${name}: revision ${revision} of ${vs.length} templates`);
        templates += vs.length;
      }
      figure(
        `${TOTAL} changes (${APIS} creates, ${TOTAL - APIS} spec patches) in ${secs(lastChangeAt - streamStart)} s ` +
          `with a failover: leader SIGKILLed at change ${KILL_AT}, ` +
          `the standby leading ${secs(leadingAt - killedAt)} s later (lease 3 s); ` +
          `all reconciled ${secs(reconciledAt - lastChangeAt)} s after the last change; ` +
          `${templates} Deployment templates for ${TOTAL} changes, none out of order, 0 duplicate children`,
      );
      await standby.stop();
    },
  );
});
