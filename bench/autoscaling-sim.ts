// npm run sim:autoscaling [-- --svg --trace ramp,spike --cold-start 30 --json]
//
// Replays deterministic load traces (bench/autoscaling/traces.ts) through two autoscalers and
// prints their replica curves and what each cost (docs/autoscaling.md):
//  - ours: the HPA our operator generates from Cortex's default fields, with the Kubernetes HPA
//    controller's maths, fed by the per-pod in-flight average our metrics adapter serves; plus
//    scale to zero and the activator's wake for minReplicas 0;
//  - cortex: Cortex's original autoscaler.
// Both see the same world (bench/autoscaling/world.ts): new replicas serve after --cold-start
// seconds, requests beyond capacity wait. --svg writes docs/img/autoscaling-<trace>.svg.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { applyDefaults, predictorOf, validateSpec } from '../operator/api/v1alpha1/index.ts';
import { cortexParamsOf } from './autoscaling/cortex.ts';
import { HPA_SYNC_SECONDS, KUBE_1_37_FLAGS } from './autoscaling/hpa.ts';
import type { ApiInstance } from '../operator/reconcilers/types.ts';
import { cortexPolicy, oursPolicy, type Policy } from './autoscaling/policies.ts';
import { asciiChart, svgChart } from './autoscaling/report.ts';
import { SERVICE_TIME_SECONDS, TRACES, type Trace } from './autoscaling/traces.ts';
import { neededReplicas, World, type Totals, type WorldOptions } from './autoscaling/world.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `usage: npm run sim:autoscaling -- [options]
  --trace NAMES        comma-separated traces (default: all: ${TRACES.map((t) => t.name).join(', ')})
  --cold-start S       seconds from a replica's creation to its first request (default 30)
  --hpa-sync S         the HPA controller's sync period (default ${HPA_SYNC_SECONDS})
  --cluster-tolerance  a cluster without per-HPA tolerances (Kubernetes < 1.35 or the gate off): the
                       operator sets none and the controller's 10% applies
  --autoscaling JSON   autoscaling fields for every trace, over Cortex's defaults and the trace's own
                       (e.g. '{"upscaleStabilizationPeriod":"15s"}'); both policies get them
  --hpa-policy-period S  replace the periodSeconds of the HPA's policies (not what the operator
                       generates: for comparing mappings, e.g. 15 = one step per sync)
  --svg                write docs/img/autoscaling-<trace>.svg
  --json               print the figures as JSON on stdout (charts and tables go to stderr)`;

const { values: opts } = parseArgs({
  options: {
    trace: { type: 'string' },
    'cold-start': { type: 'string', default: '30' },
    'hpa-sync': { type: 'string', default: String(HPA_SYNC_SECONDS) },
    'cluster-tolerance': { type: 'boolean', default: false },
    autoscaling: { type: 'string' },
    'hpa-policy-period': { type: 'string' },
    svg: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
const coldStart = Number(opts['cold-start']);
const hpaSyncSeconds = Number(opts['hpa-sync']);
if (!Number.isInteger(coldStart) || coldStart < 0 || !Number.isInteger(hpaSyncSeconds) || hpaSyncSeconds < 1) {
  console.error(`--cold-start must be a whole number of seconds ≥ 0 and --hpa-sync ≥ 1\n${USAGE}`);
  process.exit(2);
}
const names = opts.trace?.split(',').map((s) => s.trim()) ?? TRACES.map((t) => t.name);
const unknown = names.filter((n) => !TRACES.some((t) => t.name === n));
if (unknown.length > 0) {
  console.error(`unknown trace ${unknown.join(', ')}; known: ${TRACES.map((t) => t.name).join(', ')}`);
  process.exit(2);
}
const flags = { ...KUBE_1_37_FLAGS, configurableTolerance: !opts['cluster-tolerance'] };
let overrides: Record<string, unknown> = {};
try {
  overrides = opts.autoscaling ? JSON.parse(opts.autoscaling) : {};
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) throw new Error('not an object');
} catch (e) {
  console.error(
    '--autoscaling must be a JSON object of autoscaling fields, ' +
      `e.g. '{"upscaleStabilizationPeriod":"15s"}' (${(e as Error).message})`,
  );
  process.exit(2);
}
const policyPeriod = opts['hpa-policy-period'] === undefined ? undefined : Number(opts['hpa-policy-period']);
if (policyPeriod !== undefined && !(Number.isInteger(policyPeriod) && policyPeriod >= 1 && policyPeriod <= 1800)) {
  console.error("--hpa-policy-period must be a whole number of seconds from 1 to 1800 (the HPA's bounds)");
  process.exit(2);
}
const say = opts.json ? (s: string) => console.error(s) : (s: string) => console.log(s);

function apiFor(trace: Trace): ApiInstance {
  const input = {
    predictor: { type: 'python' as const, path: 'predictor.py', image: 'sim' },
    autoscaling: { ...trace.autoscaling, ...overrides },
  };
  const spec = applyDefaults('sim', input);
  const issues = validateSpec(spec);
  if (issues.length > 0) {
    console.error(
      `--autoscaling: ${issues
        .map((i) => `field ${i.path.join('.')}: ${i.message}${i.fix ? ` (${i.fix})` : ''}`)
        .join('; ')}`,
    );
    process.exit(2);
  }
  return { name: trace.name, namespace: 'sim', uid: 'sim', generation: 1, spec };
}

interface Run {
  totals: Totals;
  curve: number[];
}

function run(trace: Trace, api: ApiInstance, policy: Policy, o: WorldOptions): Run {
  const a = api.spec.autoscaling;
  const world = new World(o, Math.max(a.minReplicas, neededReplicas(trace.arrivals(0), o)));
  for (let t = 0; t < trace.durationSeconds; t++) {
    const view = world.step(t, trace.arrivals(t));
    world.scaleTo(t, policy.step(view));
  }
  return { totals: world.totals, curve: world.replicaCurve };
}

const rows: { trace: string; policy: string; totals: Totals }[] = [];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
say(
  `Autoscaling simulation, ${new Date().toISOString().slice(0, 10)}: ` +
    `service time ${SERVICE_TIME_SECONDS * 1000} ms, cold start ${coldStart} s, ` +
    `HPA sync ${hpaSyncSeconds} s, Cortex tick 10 s, ` +
    (flags.configurableTolerance ? 'per-HPA tolerances (Kubernetes ≥ 1.35)' : 'cluster-wide 10% tolerance'),
);
if (opts.autoscaling) say(`autoscaling fields: ${JSON.stringify(overrides)}`);
if (policyPeriod !== undefined) say(`HPA policy periods replaced by ${policyPeriod} s (not the operator's mapping)`);
for (const name of names) {
  const trace = TRACES.find((t) => t.name === name)!;
  const api = apiFor(trace);
  const a = api.spec.autoscaling;
  const o: WorldOptions = {
    serviceTimeSeconds: SERVICE_TIME_SECONDS,
    // what a replica runs at once (the target may ask for less, to keep headroom)
    concurrency:
      predictorOf(api.spec, 'the simulation').processesPerReplica *
      predictorOf(api.spec, 'the simulation').threadsPerProcess,
    maxReplicaConcurrency: a.maxReplicaConcurrency,
    coldStartSeconds: coldStart,
    windowSeconds: cortexParamsOf(a).windowSeconds,
  };
  const policyPeriods = policyPeriod === undefined ? undefined : { up: policyPeriod, down: policyPeriod };
  const ours = run(
    trace,
    api,
    oursPolicy(api, { flags, hpaSyncSeconds, scaleToZeroCheckSeconds: 10, policyPeriods }),
    o,
  );
  const cortex = run(trace, api, cortexPolicy(api), o);
  const needed = Array.from({ length: trace.durationSeconds }, (_, t) => neededReplicas(trace.arrivals(t), o));
  const curves = {
    title: `${trace.name}: ${trace.description}`,
    durationSeconds: trace.durationSeconds,
    needed,
    ours: ours.curve,
    cortex: cortex.curve,
  };
  say(`\n${curves.title}   ('.' needed, 'o' ours, 'x' Cortex, '#' both)`);
  say(asciiChart(curves));
  rows.push(
    { trace: name, policy: 'ours (HPA)', totals: ours.totals },
    { trace: name, policy: 'Cortex', totals: cortex.totals },
  );
  if (opts.svg) {
    const file = path.join(repo, 'docs', 'img', `autoscaling-${name}.svg`);
    mkdirSync(path.dirname(file), { recursive: true });
    const fields = { ...trace.autoscaling, ...overrides };
    const changed = Object.keys(fields).length > 0 ? ` but ${JSON.stringify(fields)}` : '';
    const subtitle =
      `${SERVICE_TIME_SECONDS * 1000} ms per request, ${o.concurrency} at a time per replica, ` +
      `cold start ${coldStart} s; Cortex's default autoscaling fields${changed}`;
    writeFileSync(file, svgChart(curves, subtitle));
    say(`wrote ${path.relative(repo, file)}`);
  }
}

say(
  '\n| trace | policy | replica-s | over-provisioned replica-s | under-provisioned replica-s ' +
    '| queued request-s | 503s | changes | peak |',
);
say('|---|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const t = r.totals;
  say(
    `| ${r.trace} | ${r.policy} | ${fmt(t.replicaSeconds)} | ${fmt(t.overProvisioned)} ` +
      `| ${fmt(t.underProvisioned)} | ${fmt(t.queuedRequestSeconds)} | ${fmt(t.rejected)} ` +
      `| ${t.scaleChanges} | ${t.peakReplicas} |`,
  );
}
if (opts.json)
  console.log(
    JSON.stringify(
      { coldStartSeconds: coldStart, hpaSyncSeconds, perHpaTolerance: flags.configurableTolerance, results: rows },
      null,
      2,
    ),
  );
