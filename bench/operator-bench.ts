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
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir, cpus } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startCluster, type Cluster } from '../test/cluster/cluster.ts';
import { killAllSync } from '../test/cluster/processes.ts';
import { clockTicksPerSecond } from './cpu.ts';
import { Kube, type Obj, type Watch } from './operator/kube.ts';
import { measureLatency } from './operator/latency.ts';
import { Waiter, procStatusKB, r1, r2 } from './operator/measure-util.ts';
import { BUILTIN_NS, LAT_NS, SCALE_NS } from './operator/objects.ts';
import { RssSampler, type Phase } from './operator/phase.ts';
import { measureScale } from './operator/scale.ts';
import { printTable } from './operator/table.ts';

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

  const rss = new RssSampler(() => procStatusKB(pid, 'VmRSS'));
  const phase: Phase = {
    k,
    waiter: new Waiter(),
    watch: async (apiPath, onEvent) => {
      watches.push(
        await k.listWatch(apiPath, onEvent, (err: Error) => {
          watchFailure ??= err;
          say(`watch failed: ${err.message}`);
        }),
      );
    },
    check: () => {
      if (watchFailure) throw watchFailure;
    },
    failed: () => watchFailure !== undefined,
    say,
  };

  const { ratioP50Raw: ratioP50, ratioP99Raw: ratioP99, ...latency } = await measureLatency(phase, N, WARMUP);
  let scale: Obj = { skipped: true };
  if (SCALE > 0) {
    load.beforeScale = loadavg().map(r2);
    scale = await measureScale(
      phase,
      {
        apis: SCALE,
        concurrency: CONCURRENCY,
        replicas: SCALE_REPLICAS,
        timeoutMs: TIMEOUT_MS,
        operatorPid: pid,
        stateDir: cluster.stateDir,
        hz,
      },
      rss,
    );
  }
  rss.stop();
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
    latency,
    scale,
    memory: { idleRssMB: r1(idleRssKB / 1024), peakRssSampledMB: r1(rss.peakKB / 1024), vmHwmMB: r1(hwmKB / 1024) },
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
              value: r1(Math.max(rss.peakKB, hwmKB) / 1024),
              pass: Math.max(rss.peakKB, hwmKB) / 1024 < GOALS.peakRssMB,
            },
          }
        : {}),
    },
  };
  printTable(out, result);
  if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (opWarnings + opErrors > 0) say(`operator log, last lines:\n${opLog.slice(-10).join('\n')}`);
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
