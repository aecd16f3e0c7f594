// npm run bench [-- --duration 10 --connections 64 --warmup 2 --idle-wait 20 --retries 2 --rounds 3 --json
//                   --only a,b --load wrk|autocannon]
//
// Serves the same trivial predictor with this runtime and with the usual alternatives, one
// after another, loads each with the same POST for the same time, and compares requests/s,
// latency and requests per CPU-second of each server's whole process tree. All of that in
// rounds (bench/rounds.ts says why), the ratios taken within each round.
// See docs/performance.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pickLoadGenerator } from './load.ts';
import { measure, QUIET, waitForIdle, type Measurement } from './measure.ts';
import { parseLoadBenchOptions } from './options.ts';
import { medianFigures, pairedRatios } from './rounds.ts';
import { formatRunInfo, runInfo } from './run-info.ts';
import { alignTable, formatCount, loadCells } from './table.ts';
import { discardSink } from './discard-sink.ts';
import { BENCH_DIR, BODY, CONTENDERS, OPT_IN, ensureVenv, startServer } from './servers.ts';

const USAGE = `usage: npm run bench -- [options]
  --duration S      measured seconds per server (default 10)
  --connections N   concurrent keep-alive connections (default 64)
  --warmup S        unmeasured seconds of load before measuring (default 2)
  --idle-wait S     before each server, wait up to S seconds for the machine to be idle (default 20)
  --retries N       measure a server again (up to N times) when other work disturbed it (default 2)
  --rounds N        measure every server N times, one round after another; ratios are taken
                    within each round and their median reported (default 3)
  --only IDS        comma-separated subset of: ${CONTENDERS.map((c) => c.id).join(', ')}
                    (${[...OPT_IN].join(', ')}: only when named; npm run bench:observability)
  --load NAME       force the load generator: wrk or autocannon
  --json            write bench/results/<timestamp>.json and print it on stdout (the table goes to stderr)`;

const opts = parseLoadBenchOptions(
  CONTENDERS.map((c) => c.id),
  { duration: 10, connections: 64, warmup: 2, retries: 2, rounds: 3 },
  USAGE,
  OPT_IN,
);
const { durationS, connections, warmupS, idleWaitS, retries } = opts;
const selected = CONTENDERS.filter((c) => opts.ids.includes(c.id));
// With --json, stdout carries only the JSON document.
const say = (msg = '') => (opts.json ? console.error(msg) : console.log(msg));

interface Outcome {
  id: string;
  label: string;
  status: 'ok' | 'unavailable' | 'failed';
  reason?: string;
  url?: string;
  result?: Measurement;
}

function versionOf(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return 'unknown';
  }
}

// ---- setup ---------------------------------------------------------------------------------

const load = await pickLoadGenerator(opts.load, say);
if (selected.some((c) => c.id.startsWith('fastapi'))) ensureVenv(say);
const [fastapi = 'unknown', uvicorn = 'unknown'] = versionOf(join(BENCH_DIR, '.venv', 'bin', 'python'), [
  '-c',
  'import fastapi, uvicorn; print(fastapi.__version__, uvicorn.__version__)',
]).split(' ');
const info = runInfo({ [load.name]: load.version, fastapi, uvicorn });
say(formatRunInfo(info));
say(`load: ${load.name}, ${connections} connections, ${warmupS}s warm-up, ${durationS}s measured per server`);
say();

// Tracing's OTLP exports and payload logging's events go to a sink in this process, which
// discards them: what they cost the server is measured, not what a collector does with them.
const sink = selected.some((c) => OPT_IN.has(c.id)) ? await discardSink() : undefined;

// ---- one server after another ---------------------------------------------------------------

let current: { stop(): Promise<void> } | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

/** One measured interval against a running server. */
const measureOnce = (pid: number, url: string, busyBeforeCores: number) =>
  measure({ load, pid, url, body: BODY, connections, durationS, busyBeforeCores });

/** One server, started, warmed up, measured (again when disturbed) and stopped. */
async function runServer(c: (typeof selected)[number], tag: string): Promise<Outcome> {
  const why = c.unavailable();
  if (why) {
    say(`${c.label}: unavailable (${why})`);
    return { id: c.id, label: c.label, status: 'unavailable', reason: why };
  }
  // Numbers from a machine that is busy with something else are not comparable.
  const busyBefore = await waitForIdle(idleWaitS);
  if (busyBefore > QUIET)
    say(`WARNING: the machine is not idle (${busyBefore.toFixed(2)} cores busy before this run); numbers will be low`);
  let server;
  try {
    server = await startServer(c);
  } catch (err) {
    const reason = (err as Error).message;
    say(`${c.label}: unavailable (${reason.split('\n')[0]})`);
    for (const line of reason.split('\n').slice(1)) say(`    ${line}`);
    return { id: c.id, label: c.label, status: 'unavailable', reason };
  }
  current = server;
  try {
    if (warmupS > 0) await load.run({ url: server.url, body: BODY, connections, durationS: warmupS });
    // When other work disturbed the interval, measure again (up to --retries) and keep the cleanest.
    let result = await measureOnce(server.pid, server.url, busyBefore);
    for (let retry = 1; retry <= retries && result.otherCores > QUIET; retry++) {
      say(
        `${tag}${c.label}: other work kept ${result.otherCores.toFixed(2)} cores busy meanwhile; ` +
          `measuring again (${retry}/${retries})`,
      );
      const again = await measureOnce(server.pid, server.url, await waitForIdle(idleWaitS));
      if (again.otherCores < result.otherCores) result = again;
    }
    const r = result;
    say(
      `${tag}${c.label}: ${formatCount(r.requestsPerS)} req/s, p99 ${r.p99Ms.toFixed(2)} ms, ` +
        `${formatCount(r.requestsPerCpuS)} req/CPU-s` +
        (r.non2xx + r.errors > 0 ? `  (WARNING: ${r.non2xx} non-2xx, ${r.errors} socket errors)` : '') +
        (r.otherCores > QUIET ? `  (WARNING: other work kept ${r.otherCores.toFixed(2)} cores busy meanwhile)` : ''),
    );
    return { id: c.id, label: c.label, status: 'ok', url: server.url, result };
  } catch (err) {
    say(`${tag}${c.label}: failed (${(err as Error).message})`);
    return { id: c.id, label: c.label, status: 'failed', reason: (err as Error).message };
  } finally {
    await server.stop();
    current = undefined;
  }
}

// Every server once per round, in the same order: the ratios below are taken within a round.
const rounds: Outcome[][] = [];
for (let round = 1; round <= opts.rounds; round++) {
  const tag = opts.rounds > 1 ? `[round ${round}/${opts.rounds}] ` : '';
  const outcomes: Outcome[] = [];
  for (const c of selected) {
    // A server that could not start in round 1 will not start later either.
    const first = rounds[0]?.find((o) => o.id === c.id);
    if (first?.status === 'unavailable') outcomes.push(first);
    else outcomes.push(await runServer(c, tag));
  }
  rounds.push(outcomes);
}
if (sink) {
  say(
    `\nthe sink received: ${[...sink.counts].map(([path, n]) => `${path} ${formatCount(n)}`).join(', ') || 'nothing'}`,
  );
  await sink.close();
}
const figuresOf = (id: string) =>
  rounds.map((outcomes) => outcomes.find((o) => o.id === id && o.status === 'ok')?.result);

// ---- table, ratios, targets -----------------------------------------------------------------

// A server's row: each figure's median over the rounds it ran in.
const rows = [['server', 'req/s', 'p50 ms', 'p99 ms', 'CPU cores', 'req/CPU-s', 'errors', 'other load', 'rounds']];
for (const c of selected) {
  const ran = figuresOf(c.id).filter((r) => r !== undefined);
  const last = rounds.at(-1)!.find((o) => o.id === c.id)!;
  if (ran.length === 0) {
    rows.push([c.label, last.status, '', '', '', '', '', '', '0']);
    continue;
  }
  const m = medianFigures(ran);
  rows.push([
    c.label,
    ...loadCells(m),
    formatCount(m.requestsPerCpuS),
    String(ran.reduce((n, r) => n + r.non2xx + r.errors, 0)),
    Math.max(...ran.map((r) => r.otherCores)).toFixed(2),
    String(ran.length),
  ]);
}
say();
if (opts.rounds > 1) say(`each figure: the median over ${opts.rounds} rounds (other load: the most seen)`);
for (const line of alignTable(rows)) say(line);

interface Target {
  /** Requests per CPU-second, at least this multiple of the baseline's. */
  minPerCpu: number;
  /** p99 at most this multiple of the baseline's. */
  maxP99: number;
}
interface Comparison {
  name: string;
  /** Medians of the ratios taken within each round. */
  perCpuRatio?: number;
  p99Ratio?: number;
  /** The ratios of each round, in order. */
  perRound?: { perCpu: number[]; p99: number[] };
  target?: string;
  verdict: 'PASS' | 'MISS' | 'N/A';
}
function compare(name: string, a: string, b: string, target?: Target): Comparison {
  const targetText =
    target && `≥ ${target.minPerCpu}× per CPU-second, p99 ${target.maxP99 === 1 ? 'no worse' : `≤ ${target.maxP99}×`}`;
  const paired = pairedRatios(figuresOf(a), figuresOf(b));
  if (!paired) return { name, target: targetText, verdict: 'N/A' };
  const { perCpuMedian: perCpuRatio, p99Median: p99Ratio } = paired;
  let verdict: Comparison['verdict'] = 'N/A';
  if (target) verdict = perCpuRatio >= target.minPerCpu && p99Ratio <= target.maxP99 ? 'PASS' : 'MISS';
  return {
    name,
    perCpuRatio,
    p99Ratio,
    perRound: { perCpu: paired.perCpu, p99: paired.p99 },
    target: targetText,
    verdict,
  };
}
// The goals (docs/performance.md): with the default log level, i.e. the access log on, against
// uvicorn without its access log.
const comparisons = [
  compare('runtime (Python) vs FastAPI async', 'runtime-python', 'fastapi-async', { minPerCpu: 4, maxP99: 1 }),
  compare('runtime (Python, no access log) vs FastAPI async', 'runtime-python-quiet', 'fastapi-async'),
  compare('runtime (Python) vs FastAPI sync', 'runtime-python', 'fastapi-sync'),
  compare('runtime (TypeScript) vs bare node:http', 'runtime-ts', 'bare-node', { minPerCpu: 0.8, maxP99: 2 }),
  compare('runtime (TypeScript, no access log) vs bare node:http', 'runtime-ts-quiet', 'bare-node'),
  compare('FastAPI async vs bare node:http', 'fastapi-async', 'bare-node'),
  // the opt-in contenders' cost, only when they ran (bench:observability)
  ...(
    [
      ['traced (OTLP) vs not', 'runtime-python-traced'],
      ['payload logging 100% vs not', 'runtime-python-logged'],
      ['traced + payload logging vs neither', 'runtime-python-observed'],
    ] as const
  )
    .filter(([, id]) => opts.ids.includes(id))
    .map(([name, id]) => compare(name, id, 'runtime-python')),
];
say();
if (opts.rounds > 1) say("ratios: the median of the ratios taken within each round (each round's in brackets)");
const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
for (const cmp of comparisons) {
  let ratios = 'n/a (a contender did not run)';
  if (cmp.perCpuRatio !== undefined) {
    ratios = `${cmp.perCpuRatio.toFixed(2)}× req/CPU-s, p99 ${cmp.p99Ratio!.toFixed(2)}×`;
    if (opts.rounds > 1) ratios += `  [${list(cmp.perRound!.perCpu)}; p99 ${list(cmp.perRound!.p99)}]`;
  }
  const verdict = cmp.target ? `  target ${cmp.target}: ${cmp.verdict}` : '';
  say(`${cmp.name.padEnd(54)} ${ratios}${verdict}`);
}
const disturbed = new Set(rounds.flat().flatMap((o) => (o.result && o.result.otherCores > QUIET ? [o.id] : [])));
if (disturbed.size > 0) say(`\nother work disturbed: ${[...disturbed].join(', ')}; their figures are low`);

if (opts.json) {
  const doc = {
    ...info,
    loadGenerator: { name: load.name, version: load.version },
    settings: { durationS, warmupS, connections, rounds: opts.rounds, body: BODY },
    rounds,
    comparisons,
  };
  const dir = join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${doc.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  say(`\nwrote ${file}`);
  console.log(JSON.stringify(doc, null, 2));
}

// A baseline that could not run means the numbers above are incomplete (exit 1); a missed
// target is a regression to look at (exit 3), so scripts and people notice either.
const baselinesRan = selected
  .filter((c) => !c.id.startsWith('runtime'))
  .every((c) => figuresOf(c.id).some((r) => r !== undefined));
const missed = comparisons.filter((c) => c.verdict === 'MISS');
if (missed.length > 0) say(`\nMISSED: ${missed.map((c) => c.name).join('; ')}`);
process.exit(!baselinesRan ? 1 : missed.length > 0 ? 3 : 0);
