// npm run bench:operator [-- --n 50 --scale 1000 --concurrency 50 --json]
//
// The RealtimeAPI operator on a real control plane (test/cluster: kube-apiserver, etcd,
// controller-manager, scheduler, kwok nodes), started here in a temp state dir and torn down at
// the end, failure or not. The operator runs as a local process (node operator/bin/cortex-operator.ts).
//  1. latency: RealtimeAPI created → its Deployment created, next to the built-in Deployment
//     controller's Deployment created → ReplicaSet created; both seen by client-side watches.
//  2. scale: --scale RealtimeAPIs created at once (--concurrency at a time), time until every one
//     has its Deployment, Service, HPA and status.observedGeneration == generation; the operator's
//     peak RSS (VmRSS every 100 ms, and the kernel's VmHWM).
// See docs/performance.md ("Operator").
import { operatorNodeFlags } from '../operator/node-flags.ts';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir, cpus } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startCluster, type Cluster } from '../test/cluster/cluster.ts';
import { daemons, killAllSync } from '../test/cluster/processes.ts';
import { clockTicksPerSecond, machineBusyTicks } from './cpu.ts';
import { Kube, KubeError, type Obj, type Watch, type WatchEvent } from './operator/kube.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `usage: npm run bench:operator -- [options]
  --n N              sequential creates per controller in the latency phase (default 50)
  --warmup N         unmeasured creates per controller first (default 3)
  --scale N          RealtimeAPIs created at once in the scale phase (default 1000; 0: skip)
  --concurrency N    create requests in flight in the scale phase (default 50)
  --scale-replicas N initReplicas/minReplicas of the scale-phase APIs (default 0: no pods; see docs)
  --workers N        the operator's --workers (default: its own default)
  --timeout S        give up on the scale phase after S seconds (default 600)
  --json             print the results as JSON on stdout (the table goes to stderr)`;

const { values: opts } = parseArgs({
  options: {
    n: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '3' },
    scale: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '50' },
    'scale-replicas': { type: 'string', default: '0' },
    workers: { type: 'string' },
    timeout: { type: 'string', default: '600' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
const N = Number(opts.n);
const WARMUP = Number(opts.warmup);
const SCALE = Number(opts.scale);
const CONCURRENCY = Number(opts.concurrency);
const SCALE_REPLICAS = Number(opts['scale-replicas']);
const TIMEOUT_MS = Number(opts.timeout) * 1000;
if (
  ![N, WARMUP, SCALE, CONCURRENCY, SCALE_REPLICAS, TIMEOUT_MS].every((v) => Number.isInteger(v) && v >= 0) ||
  N < 1 ||
  CONCURRENCY < 1
) {
  console.error(USAGE);
  process.exit(2);
}
const out = opts.json ? process.stderr : process.stdout;
const say = (s: string) => process.stderr.write(`[bench] ${s}\n`);

const GOALS = { latencyRatio: 2, scaleSeconds: 60, peakRssMB: 200 };
const LAT_NS = 'bench-latency';
const BUILTIN_NS = 'bench-builtin';
const SCALE_NS = 'bench-scale';
const CPU_POOL = { 'cortex.dev/node-pool': 'cpu' };

// ---------------------------------------------------------------- helpers

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}
function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return {
    n: s.length,
    min: s[0],
    p50: quantile(s, 0.5),
    p90: quantile(s, 0.9),
    p99: quantile(s, 0.99),
    max: s[s.length - 1],
    mean: s.reduce((a, b) => a + b, 0) / s.length,
  };
}
const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;

function procTicks(pid: number): number | undefined {
  try {
    const t = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = t.slice(t.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return undefined;
  }
}
function procStatusKB(pid: number, field: string): number | undefined {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Resolves when `check()` is true, re-checked whenever `poke()` is called; rejects after `ms`. */
class Waiter {
  private waiters: { check: () => boolean; resolve: () => void }[] = [];
  poke(): void {
    this.waiters = this.waiters.filter((w) => (w.check() ? (w.resolve(), false) : true));
  }
  until(what: string, check: () => boolean, ms: number): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.check !== check);
        reject(new Error(`timed out after ${ms / 1000}s waiting for ${what}`));
      }, ms);
      this.waiters.push({
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

const realtimeApi = (name: string, ns: string, autoscaling?: Record<string, number>): Obj => ({
  apiVersion: 'cortex.dev/v1alpha1',
  kind: 'RealtimeAPI',
  metadata: { name, namespace: ns },
  spec: {
    predictor: { type: 'python', path: 'predictor.py', image: 'fake.invalid/bench:1' },
    ...(autoscaling ? { autoscaling } : {}),
  },
});
const deployment = (name: string, ns: string): Obj => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: ns, labels: { app: name } },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        nodeSelector: CPU_POOL,
        containers: [{ name: 'api', image: 'fake.invalid/bench:1', ports: [{ containerPort: 8888 }] }],
      },
    },
  },
});
const RAPI = (ns: string) => `/apis/cortex.dev/v1alpha1/namespaces/${ns}/realtimeapis`;
const DEPLOY = (ns: string) => `/apis/apps/v1/namespaces/${ns}/deployments`;
const RS = (ns: string) => `/apis/apps/v1/namespaces/${ns}/replicasets`;
const SVC = (ns: string) => `/api/v1/namespaces/${ns}/services`;
const HPA = (ns: string) => `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers`;
const ownerName = (o: Obj): string | undefined => o.metadata?.ownerReferences?.find((r: Obj) => r.controller)?.name;

// ---------------------------------------------------------------- the run

let cluster: Cluster | undefined;
let operator: ChildProcess | undefined;
let kube: Kube | undefined;
const watches: Watch[] = [];
let watchFailure: Error | undefined;
const opLog: string[] = [];
let opWarnings = 0;
let opErrors = 0;
const dir = mkdtempSync(path.join(tmpdir(), 'cortex-operator-bench-'));

function killOperator(): void {
  if (operator && operator.exitCode === null && operator.signalCode === null) operator.kill('SIGKILL');
}
process.on('exit', killOperator);
// Ctrl-C and friends skip 'exit' handlers and the finally below: kill the operator and the
// cluster, remove the temp dir, then let the signal end the process as it would have.
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const onSignal = (sig: NodeJS.Signals) => {
  killOperator();
  if (cluster) killAllSync(cluster.stateDir);
  rmSync(dir, { recursive: true, force: true });
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
};
for (const s of SIGNALS) process.on(s, onSignal);

async function teardown(): Promise<void> {
  for (const w of watches) w.close();
  kube?.close();
  if (operator && operator.exitCode === null && operator.signalCode === null) {
    operator.kill('SIGTERM');
    const exited = new Promise((r) => operator!.once('exit', r));
    if (!(await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]))) killOperator();
  }
  await cluster?.stop().catch((err) => say(`stopping the cluster: ${String(err)}`));
  rmSync(dir, { recursive: true, force: true });
}

function operatorFlags(): string[] {
  const bin = path.join(repo, 'operator', 'bin', 'cortex-operator.ts');
  let help = '';
  try {
    help = execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  } catch (err) {
    help = String((err as { stdout?: string }).stdout ?? '');
  }
  const flags: string[] = [];
  // Leader election (being added alongside this benchmark): off, one replica runs here.
  if (/--no-leader-elect\b/.test(help)) flags.push('--no-leader-elect');
  else if (/--leader-elect(ion)?\s+</.test(help))
    flags.push(help.includes('--leader-election ') ? '--leader-election' : '--leader-elect', 'false');
  // Any metrics listener: none (the machine is shared; no fixed ports).
  for (const f of ['--metrics-port', '--metrics-bind-port']) if (new RegExp(`${f}\\b`).test(help)) flags.push(f, '0');
  if (/--metrics-bind-address\b/.test(help)) flags.push('--metrics-bind-address', '0');
  // The metrics API would scrape kwok's fake pod IPs, which nothing may connect to.
  if (/--no-metrics-api\b/.test(help)) flags.push('--no-metrics-api');
  return flags;
}

async function startOperator(c: Cluster): Promise<{ pid: number; flags: string[] }> {
  const extra = operatorFlags();
  const flags = [
    '--kubeconfig',
    c.kubeconfig,
    '--node-pools-file',
    c.nodePoolsFile,
    '--health-port',
    '0',
    ...(opts.workers ? ['--workers', opts.workers] : []),
    ...extra,
  ];
  operator = spawn(
    process.execPath,
    [...operatorNodeFlags, path.join(repo, 'operator', 'bin', 'cortex-operator.ts'), ...flags],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let running = false;
  let partial = '';
  operator.stderr!.setEncoding('utf8');
  operator.stderr!.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      if (!l) continue;
      if (l.includes('"level":"warning"')) opWarnings++;
      if (l.includes('"level":"error"')) opErrors++;
      if (l.includes('"message":"running"')) running = true;
      opLog.push(l);
      if (opLog.length > 200) opLog.shift();
    }
  });
  const exited = new Promise<never>((_, reject) =>
    operator!.once('exit', (code, sig) =>
      reject(new Error(`the operator exited (${code ?? sig}):\n${opLog.slice(-20).join('\n')}`)),
    ),
  );
  exited.catch(() => {});
  const deadline = Date.now() + 60_000;
  while (!running && Date.now() < deadline) {
    await Promise.race([sleep(100), exited]);
  }
  if (!running) say('the operator never logged "running" within 60 s; going on (the warm-up creates will tell)');
  return { pid: operator.pid!, flags };
}

async function main() {
  const startedAt = new Date();
  const hz = clockTicksPerSecond();
  const load = { start: loadavg().map(r2) as number[], beforeScale: [] as number[], end: [] as number[] };
  say(`temp dir ${dir}; load average ${load.start.join(' ')}`);

  const t0 = performance.now();
  cluster = await startCluster({
    stateDir: path.join(dir, 'state'),
    nodePoolsFile: path.join(dir, 'node-pools.yaml'),
    log: (m) => say(`cluster: ${m}`),
  });
  const clusterStartS = (performance.now() - t0) / 1000;
  kube = new Kube(cluster.kubeconfig, Math.max(64, CONCURRENCY + 8));
  const k = kube;
  for (const ns of [LAT_NS, BUILTIN_NS, SCALE_NS])
    await k.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  // the default ServiceAccount must exist before pods can be created in a namespace (ReplicaSets would retry)
  for (const ns of [LAT_NS, BUILTIN_NS, SCALE_NS]) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await k.request('GET', `/api/v1/namespaces/${ns}/serviceaccounts/default`);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(100);
      }
    }
  }

  const { pid, flags } = await startOperator(cluster);
  say(`operator pid ${pid}: cortex-operator ${flags.join(' ')}`);
  await sleep(1000);
  const idleRssKB = procStatusKB(pid, 'VmRSS') ?? 0;

  // RSS sampling, every 100 ms, for the whole run
  let peakRssKB = 0;
  let scalePeakRssKB = 0;
  let inScale = false;
  const rssTimer = setInterval(() => {
    const kb = procStatusKB(pid, 'VmRSS');
    if (kb === undefined) return;
    if (kb > peakRssKB) peakRssKB = kb;
    if (inScale && kb > scalePeakRssKB) scalePeakRssKB = kb;
  }, 100);
  rssTimer.unref();

  const onWatchError = (err: Error) => {
    watchFailure ??= err;
    say(`watch failed: ${err.message}`);
  };
  const waiter = new Waiter();
  const check = () => {
    if (watchFailure) throw watchFailure;
  };

  // ------------------------------------------------ 1. latency
  const seen = {
    rapi: new Map<string, number>(),
    rapiSettled: new Set<string>(),
    ourDep: new Map<string, number>(),
    bDep: new Map<string, number>(),
    bDepSettled: new Set<string>(),
    bRs: new Map<string, number>(),
  };
  const first = (m: Map<string, number>, name: string | undefined, e: WatchEvent) => {
    if (name && !m.has(name)) m.set(name, e.at);
  };
  const settled = (o: Obj) =>
    o.status?.observedGeneration !== undefined && o.status.observedGeneration >= o.metadata.generation;
  watches.push(
    await k.listWatch(
      RAPI(LAT_NS),
      (e) => {
        first(seen.rapi, e.object.metadata.name, e);
        if (settled(e.object)) seen.rapiSettled.add(e.object.metadata.name);
        waiter.poke();
      },
      onWatchError,
    ),
  );
  watches.push(
    await k.listWatch(
      DEPLOY(LAT_NS),
      (e) => {
        first(seen.ourDep, e.object.metadata.labels?.['cortex.dev/api'], e);
        waiter.poke();
      },
      onWatchError,
    ),
  );
  watches.push(
    await k.listWatch(
      DEPLOY(BUILTIN_NS),
      (e) => {
        first(seen.bDep, e.object.metadata.name, e);
        if (settled(e.object)) seen.bDepSettled.add(e.object.metadata.name);
        waiter.poke();
      },
      onWatchError,
    ),
  );
  watches.push(
    await k.listWatch(
      RS(BUILTIN_NS),
      (e) => {
        first(seen.bRs, ownerName(e.object), e);
        waiter.poke();
      },
      onWatchError,
    ),
  );

  const ours: number[] = [];
  const oursFromResponse: number[] = [];
  const builtin: number[] = [];
  const builtinFromResponse: number[] = [];
  const total = WARMUP + N;
  say(`latency: ${WARMUP} warm-up + ${N} measured creates per controller, alternating`);
  for (let i = 0; i < total; i++) {
    check();
    const measured = i >= WARMUP;
    const timeout = measured ? 30_000 : 90_000;
    // ours: RealtimeAPI → Deployment
    const name = `lat-${i}`;
    await k.request('POST', RAPI(LAT_NS), realtimeApi(name, LAT_NS));
    const ourDone = performance.now();
    await waiter.until(
      `the Deployment of RealtimeAPI ${name}`,
      () => seen.ourDep.has(name) && seen.rapi.has(name),
      timeout,
    );
    if (measured) {
      ours.push(seen.ourDep.get(name)! - seen.rapi.get(name)!);
      oursFromResponse.push(seen.ourDep.get(name)! - ourDone);
    }
    // let its reconcile finish (Service, HPA, status) before the next create
    await waiter.until(`RealtimeAPI ${name}'s status`, () => seen.rapiSettled.has(name), timeout);
    // built-in: Deployment → ReplicaSet
    const bname = `dep-${i}`;
    await k.request('POST', DEPLOY(BUILTIN_NS), deployment(bname, BUILTIN_NS));
    const bDone = performance.now();
    await waiter.until(
      `the ReplicaSet of Deployment ${bname}`,
      () => seen.bRs.has(bname) && seen.bDep.has(bname),
      timeout,
    );
    if (measured) {
      builtin.push(seen.bRs.get(bname)! - seen.bDep.get(bname)!);
      builtinFromResponse.push(seen.bRs.get(bname)! - bDone);
    }
    await waiter.until(`Deployment ${bname}'s status`, () => seen.bDepSettled.has(bname), timeout);
  }
  const latency = {
    n: N,
    operator: stats(ours),
    builtin: stats(builtin),
    operatorFromCreateResponse: stats(oursFromResponse),
    builtinFromCreateResponse: stats(builtinFromResponse),
  };
  const ratioP50 = latency.operator.p50 / latency.builtin.p50;
  const ratioP99 = latency.operator.p99 / latency.builtin.p99;
  say(`latency: ours p50 ${r1(latency.operator.p50)} ms, built-in p50 ${r1(latency.builtin.p50)} ms`);

  // ------------------------------------------------ 2. scale
  let scale: Obj = { skipped: true };
  if (SCALE > 0) {
    load.beforeScale = loadavg().map(r2);
    const have = {
      dep: new Set<string>(),
      svc: new Set<string>(),
      hpa: new Set<string>(),
      observed: new Set<string>(),
    };
    const doneAt: Record<keyof typeof have, number> = { dep: 0, svc: 0, hpa: 0, observed: 0 };
    const mark = (key: keyof typeof have, name: string | undefined, e: WatchEvent) => {
      if (!name || have[key].has(name)) return;
      have[key].add(name);
      if (have[key].size === SCALE) doneAt[key] = e.at;
      waiter.poke();
    };
    watches.push(
      await k.listWatch(
        DEPLOY(SCALE_NS),
        (e) => mark('dep', e.object.metadata.labels?.['cortex.dev/api'], e),
        onWatchError,
      ),
    );
    watches.push(
      await k.listWatch(
        SVC(SCALE_NS),
        (e) => mark('svc', e.object.metadata.labels?.['cortex.dev/api'], e),
        onWatchError,
      ),
    );
    watches.push(
      await k.listWatch(
        HPA(SCALE_NS),
        (e) => mark('hpa', e.object.metadata.labels?.['cortex.dev/api'], e),
        onWatchError,
      ),
    );
    watches.push(
      await k.listWatch(
        RAPI(SCALE_NS),
        (e) => {
          if (e.type !== 'DELETED' && settled(e.object)) mark('observed', e.object.metadata.name, e);
        },
        onWatchError,
      ),
    );
    const allDone = () => Object.values(have).every((s) => s.size >= SCALE);

    // CPU of each control-plane process, the operator, this harness and the whole machine
    const procs = [
      { name: 'cortex-operator', pid },
      ...daemons(cluster.stateDir).map((d) => ({ name: d.name, pid: d.pid })),
    ];
    const ticksBefore = procs.map((p) => procTicks(p.pid) ?? 0);
    const selfBefore = process.cpuUsage();
    const machineBefore = machineBusyTicks();
    const rssBefore = procStatusKB(pid, 'VmRSS') ?? 0;

    inScale = true;
    scalePeakRssKB = rssBefore;
    const autoscaling =
      SCALE_REPLICAS === 0
        ? { minReplicas: 0, initReplicas: 0 }
        : { minReplicas: SCALE_REPLICAS, initReplicas: SCALE_REPLICAS };
    say(`scale: creating ${SCALE} RealtimeAPIs, ${CONCURRENCY} at a time (autoscaling ${JSON.stringify(autoscaling)})`);
    const start = performance.now();
    const createMs: number[] = [];
    let retries429 = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, SCALE) }, async () => {
        while (next < SCALE) {
          const i = next++;
          const body = realtimeApi(`s-${i}`, SCALE_NS, autoscaling);
          for (;;) {
            const t = performance.now();
            try {
              await k.request('POST', RAPI(SCALE_NS), body);
              createMs.push(performance.now() - t);
              break;
            } catch (err) {
              if (err instanceof KubeError && err.status === 429) {
                retries429++;
                await sleep(100);
                continue;
              }
              throw err;
            }
          }
        }
      }),
    );
    const createdAt = performance.now();
    say(`scale: all created in ${r1((createdAt - start) / 1000)} s; waiting for every one to be reconciled`);
    let timedOut = false;
    await waiter
      .until('every API to be reconciled', () => allDone() || !!watchFailure, TIMEOUT_MS)
      .catch(() => {
        timedOut = true;
        process.exitCode = 1;
      });
    check();
    const end = performance.now();
    inScale = false;
    const wallS = (end - start) / 1000;
    const cpuSeconds: Record<string, number> = {};
    procs.forEach((p, j) => {
      cpuSeconds[p.name] = r2(((procTicks(p.pid) ?? ticksBefore[j]) - ticksBefore[j]) / hz);
    });
    const self = process.cpuUsage(selfBefore);
    cpuSeconds['bench harness'] = r2((self.user + self.system) / 1e6);
    const machine = (machineBusyTicks() - machineBefore) / hz;
    const known = Object.values(cpuSeconds).reduce((a, b) => a + b, 0);
    cpuSeconds['everything else'] = r2(Math.max(0, machine - known));
    const cores: Record<string, number> = {};
    for (const [n, s] of Object.entries(cpuSeconds)) cores[n] = r2(s / wallS);
    const at = (t: number) => (t ? r2((t - start) / 1000) : null);
    scale = {
      apis: SCALE,
      concurrency: CONCURRENCY,
      replicasPerApi: SCALE_REPLICAS,
      timedOut,
      reconciled: {
        deployments: have.dep.size,
        services: have.svc.size,
        hpas: have.hpa.size,
        observedGeneration: have.observed.size,
      },
      createsSeconds: r2((createdAt - start) / 1000),
      createsPerSecond: r1(SCALE / ((createdAt - start) / 1000)),
      createRequestMs: stats(createMs),
      retries429,
      allReconciledSeconds: timedOut ? null : r2(wallS),
      afterLastCreateSeconds: timedOut ? null : r2((end - createdAt) / 1000),
      allDoneSeconds: {
        deployments: at(doneAt.dep),
        services: at(doneAt.svc),
        hpas: at(doneAt.hpa),
        observedGeneration: at(doneAt.observed),
      },
      rssBeforeMB: r1(rssBefore / 1024),
      peakRssMB: r1(scalePeakRssKB / 1024),
      cpuSeconds,
      cores,
      machineCores: cpus().length,
    };
  }
  clearInterval(rssTimer);
  const hwmKB = procStatusKB(pid, 'VmHWM') ?? 0;
  load.end = loadavg().map(r2);

  const result = {
    date: startedAt.toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    command: `npm run bench:operator -- ${process.argv.slice(2).join(' ')}`.trim(),
    clusterStartSeconds: r1(clusterStartS),
    watchRestarts: k.restarts,
    operator: { pid, flags: flags.filter((f) => !f.includes(dir)), warnings: opWarnings, errors: opErrors },
    loadAverage: load,
    latency: { ...latency, ratioP50: r2(ratioP50), ratioP99: r2(ratioP99) },
    scale,
    memory: { idleRssMB: r1(idleRssKB / 1024), peakRssSampledMB: r1(peakRssKB / 1024), vmHwmMB: r1(hwmKB / 1024) },
    goals: {
      latencyP50: {
        goal: `≤ ${GOALS.latencyRatio}× built-in`,
        value: r2(ratioP50),
        pass: ratioP50 <= GOALS.latencyRatio,
      },
      latencyP99: {
        goal: `≤ ${GOALS.latencyRatio}× built-in`,
        value: r2(ratioP99),
        pass: ratioP99 <= GOALS.latencyRatio,
      },
      ...(SCALE > 0
        ? {
            scaleTime: {
              goal: `< ${GOALS.scaleSeconds} s`,
              value: scale.allReconciledSeconds,
              pass: scale.allReconciledSeconds !== null && scale.allReconciledSeconds < GOALS.scaleSeconds,
            },
            peakRss: {
              goal: `< ${GOALS.peakRssMB} MB`,
              value: r1(Math.max(peakRssKB, hwmKB) / 1024),
              pass: Math.max(peakRssKB, hwmKB) / 1024 < GOALS.peakRssMB,
            },
          }
        : {}),
    },
  };
  printTable(result);
  if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (opWarnings + opErrors > 0) say(`operator log, last lines:\n${opLog.slice(-10).join('\n')}`);
}

function printTable(r: Obj): void {
  const w = (s: string) => out.write(`${s}\n`);
  const ms = (x: number) => `${r1(x)} ms`.padStart(10);
  const L = r.latency;
  w('');
  w(
    `cortex-operator benchmark  ${r.date}  ${r.machine.cores} cores  ` +
      `load average ${r.loadAverage.start.join(' ')} → ${r.loadAverage.end.join(' ')}`,
  );
  w('');
  w(`1. latency, N = ${L.n} sequential creates each (client-side watch events, create seen → child seen)`);
  w(
    `   ${'controller'.padEnd(44)}${'p50'.padStart(10)}${'p90'.padStart(10)}${'p99'.padStart(10)}${'max'.padStart(10)}`,
  );
  w(
    `   ${'cortex-operator: RealtimeAPI → Deployment'.padEnd(44)}` +
      `${ms(L.operator.p50)}${ms(L.operator.p90)}${ms(L.operator.p99)}${ms(L.operator.max)}`,
  );
  w(
    `   ${'built-in: Deployment → ReplicaSet'.padEnd(44)}` +
      `${ms(L.builtin.p50)}${ms(L.builtin.p90)}${ms(L.builtin.p99)}${ms(L.builtin.max)}`,
  );
  w(`   ${'ratio'.padEnd(44)}${`${L.ratioP50}×`.padStart(10)}${''.padStart(10)}${`${L.ratioP99}×`.padStart(10)}`);
  w(
    `   (from the create response instead: ours p50 ${r1(L.operatorFromCreateResponse.p50)} ms, ` +
      `built-in p50 ${r1(L.builtinFromCreateResponse.p50)} ms)`,
  );
  if (!r.scale.skipped) {
    const s = r.scale;
    w('');
    w(`2. scale: ${s.apis} RealtimeAPIs, ${s.concurrency} creates in flight, ${s.replicasPerApi} replicas each`);
    w(
      `   created in ${s.createsSeconds} s (${s.createsPerSecond}/s, ` +
        `request p50 ${r1(s.createRequestMs.p50)} ms p99 ${r1(s.createRequestMs.p99)} ms, ${s.retries429} × 429)`,
    );
    w(
      `   all reconciled: ` +
        (s.timedOut
          ? `TIMED OUT (${JSON.stringify(s.reconciled)})`
          : `${s.allReconciledSeconds} s (${s.afterLastCreateSeconds} s after the last create)`),
    );
    w(
      `   every Deployment ${s.allDoneSeconds.deployments} s, Service ${s.allDoneSeconds.services} s, ` +
        `HPA ${s.allDoneSeconds.hpas} s, status ${s.allDoneSeconds.observedGeneration} s`,
    );
    w(`   operator RSS ${s.rssBeforeMB} MB before, peak ${s.peakRssMB} MB`);
    w(
      `   CPU during the phase (cores, of ${s.machineCores}): ${Object.entries(s.cores)
        .map(([n, c]) => `${n} ${c}`)
        .join(', ')}`,
    );
  }
  w(
    `   operator RSS idle after start ${r.memory.idleRssMB} MB; ` +
      `peak over the whole run: ${r.memory.peakRssSampledMB} MB sampled, VmHWM ${r.memory.vmHwmMB} MB; ` +
      `log: ${r.operator.warnings} warnings, ${r.operator.errors} errors; bench watches resumed ${r.watchRestarts}×`,
  );
  w('');
  w(`   ${'goal'.padEnd(44)}${'target'.padStart(22)}${'value'.padStart(10)}  result`);
  const rows: [string, string][] = [
    ['latencyP50', 'latency p50 ratio'],
    ['latencyP99', 'latency p99 ratio'],
    ['scaleTime', `${r.scale.apis ?? ''} APIs reconciled (s)`],
    ['peakRss', 'operator peak RSS (MB)'],
  ];
  for (const [key, label] of rows) {
    const g = r.goals[key];
    if (g)
      w(`   ${label.padEnd(44)}${g.goal.padStart(22)}${String(g.value).padStart(10)}  ${g.pass ? 'PASS' : 'MISS'}`);
  }
  w('');
}

try {
  await main();
} catch (err) {
  say(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  if (opLog.length) say(`operator log, last lines:\n${opLog.slice(-20).join('\n')}`);
  process.exitCode = 1;
} finally {
  await teardown();
}
