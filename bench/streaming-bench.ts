// npm run bench:streaming [-- --duration 10 --connections 64 --warmup 2 --idle-wait 20 --retries 2
//                            --rounds 3 --json --only a,b]
//
// Streamed answers: one async generator (bench/fixtures/streaming/predictor.py: 200 small JSON
// chunks, 5 ms apart) served by `cortex serve`, by `cortex serve` behind the local gateway, and by
// FastAPI (StreamingResponse; sse-starlette's EventSourceResponse) under uvicorn, each read by
// `connections` concurrent streams (bench/streaming-load.ts) as JSON lines and as Server-Sent
// Events. Figures: time to first byte p50/p99 and chunks per CPU-second of the server's whole
// process tree, in rounds with the ratios taken within each round (bench/rounds.ts).
// Goals (issue 16, docs/performance.md): TTFB p99 no worse than FastAPI's and at least 2×
// FastAPI's chunks per CPU-second, for each cortex contender against FastAPI in the same format.
// Two bounds run beside them, with no goal of their own: a bare node:http server streaming the
// same lines with no Python (the least a Node front spends per chunk), and a bare asyncio server
// on uvloop running the same generator (the least a Python process spends). Their ratios to
// FastAPI say how much of the 2× any design could reach (docs/performance.md).
// Exit 1: a FastAPI contender could not run; 3: a goal was missed.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  clockTicksPerSecond,
  cpuSecondsBetween,
  machineBusyTicks,
  sampleTree,
  selfAndReapedChildrenTicks,
} from './cpu.ts';
import { QUIET, waitForIdle } from './measure.ts';
import { parseLoadBenchOptions } from './options.ts';
import { medianFigures, pairedRatios, type RoundFigures } from './rounds.ts';
import { formatRunInfo, runInfo } from './run-info.ts';
import {
  BENCH_DIR,
  VENV_PYTHON,
  cortexServe,
  ensureVenv,
  startServer,
  uvicornApp,
  venvMissing,
  type Contender,
} from './servers.ts';
import { checkStream, runStreamLoad, type StreamLoadResult, type StreamMode } from './streaming-load.ts';
import { alignTable, formatCount } from './table.ts';

const CHUNKS = 200;
const BODY = JSON.stringify({ prompt: 'hello' });

type StreamContender = Contender & { mode: StreamMode };
const streaming = (c: Contender, mode: StreamMode): StreamContender => ({
  ...c,
  mode,
  check: (url) => checkStream(url, BODY, mode, CHUNKS),
});
const gateway = (id: string, label: string): Contender => ({
  id,
  label,
  unavailable: () => undefined,
  command: (port) => ({
    cmd: process.execPath,
    args: [join(BENCH_DIR, 'streaming-gateway.ts'), String(port), 'streaming', 'streaming'],
  }),
  paths: ['/streaming'],
  startTimeoutMs: 120_000,
});
const fastapi = (id: string, label: string, path: string): Contender => ({
  id,
  label,
  unavailable: venvMissing,
  command: uvicornApp('streaming_app:app'),
  paths: [path],
  startTimeoutMs: 30_000,
});
// The two bounds on what any server can spend per chunk of this answer (see their headers): a
// bare node:http server with no Python, and a bare asyncio server on uvloop running the generator.
const bare = (id: string, label: string, command: Contender['command'], unavailable: () => string | undefined) => ({
  id,
  label,
  unavailable,
  command,
  paths: ['/'],
  startTimeoutMs: 30_000,
});
const CONTENDERS: StreamContender[] = [
  streaming(cortexServe('serve-ndjson', '(a) cortex serve, JSON lines', 'streaming', 'streaming', 120_000), 'ndjson'),
  streaming(cortexServe('serve-sse', '(b) cortex serve, SSE', 'streaming', 'streaming', 120_000), 'sse'),
  streaming(gateway('gateway-ndjson', '(c) local gateway + cortex serve, JSON lines'), 'ndjson'),
  streaming(gateway('gateway-sse', '(d) local gateway + cortex serve, SSE'), 'sse'),
  streaming(fastapi('fastapi-stream', '(e) FastAPI StreamingResponse, JSON lines', '/'), 'ndjson'),
  streaming(fastapi('fastapi-sse', '(f) FastAPI sse-starlette EventSourceResponse', '/sse'), 'sse'),
  streaming(
    bare(
      'bare-node',
      '(g) bare node:http, no Python (ceiling)',
      (port) => ({ cmd: process.execPath, args: [join(BENCH_DIR, 'bare-node-stream.ts'), String(port)] }),
      () => undefined,
    ),
    'ndjson',
  ),
  streaming(
    bare(
      'bare-python',
      '(h) bare asyncio + uvloop, the generator',
      (port) => ({ cmd: VENV_PYTHON, args: [join(BENCH_DIR, 'bare_stream.py'), String(port)] }),
      venvMissing,
    ),
    'ndjson',
  ),
];

const USAGE = `usage: npm run bench:streaming -- [options]
  --duration S      measured seconds per server (default 10)
  --connections N   concurrent streams (default 64)
  --warmup S        unmeasured seconds of load before measuring (default 2)
  --idle-wait S     before each server, wait up to S seconds for the machine to be idle (default 20)
  --retries N       measure a server again (up to N times) when other work disturbed it (default 2)
  --rounds N        measure every server N times; ratios are taken within each round (default 3)
  --only IDS        comma-separated subset of: ${CONTENDERS.map((c) => c.id).join(', ')}
  --json            write bench/results/streaming-<timestamp>.json and print it on stdout`;

const opts = parseLoadBenchOptions(
  CONTENDERS.map((c) => c.id),
  { duration: 10, connections: 64, warmup: 2, retries: 2, rounds: 3 },
  USAGE,
);
const selected = CONTENDERS.filter((c) => opts.ids.includes(c.id));
const say = (msg = '') => (opts.json ? console.error(msg) : console.log(msg));
const hz = clockTicksPerSecond();

interface Measured extends StreamLoadResult {
  cpuSeconds: number;
  chunksPerCpuS: number;
  cpuCores: number;
  otherCores: number;
}
interface Outcome {
  id: string;
  status: 'ok' | 'unavailable' | 'failed';
  reason?: string;
  result?: Measured;
}

/** One interval of stream load against a running server, with its process tree's CPU. */
async function measure(pid: number, url: string, mode: StreamMode): Promise<Measured> {
  const before = sampleTree(pid);
  const [machine0, self0] = [machineBusyTicks(), selfAndReapedChildrenTicks()];
  const load = { url, body: BODY, mode, connections: opts.connections, expectedChunks: CHUNKS };
  const r = await runStreamLoad({ ...load, durationS: opts.durationS });
  const [machine1, self1] = [machineBusyTicks(), selfAndReapedChildrenTicks()];
  const cpuSeconds = cpuSecondsBetween(before, sampleTree(pid), hz);
  // the harness (this process, the streams' client) and the server are not "other work"
  const otherCores = Math.max(0, (machine1 - machine0 - (self1 - self0)) / hz - cpuSeconds) / r.durationS;
  return { ...r, cpuSeconds, chunksPerCpuS: r.chunks / cpuSeconds, cpuCores: cpuSeconds / r.durationS, otherCores };
}

async function runServer(c: StreamContender, tag: string): Promise<Outcome> {
  const why = c.unavailable();
  if (why) return { id: c.id, status: 'unavailable', reason: why };
  const busyBefore = await waitForIdle(opts.idleWaitS);
  if (busyBefore > QUIET) say(`WARNING: the machine is not idle (${busyBefore.toFixed(2)} cores busy before this run)`);
  let server;
  try {
    server = await startServer(c);
  } catch (err) {
    const reason = (err as Error).message;
    say(`${c.label}: unavailable (${reason.split('\n')[0]})`);
    return { id: c.id, status: 'unavailable', reason };
  }
  try {
    const load = { url: server.url, body: BODY, mode: c.mode, connections: opts.connections, expectedChunks: CHUNKS };
    if (opts.warmupS > 0) await runStreamLoad({ ...load, durationS: opts.warmupS });
    let result = await measure(server.pid, server.url, c.mode);
    for (let retry = 1; retry <= opts.retries && result.otherCores > QUIET; retry++) {
      say(`${tag}${c.label}: other work kept ${result.otherCores.toFixed(2)} cores busy; measuring again`);
      await waitForIdle(opts.idleWaitS);
      const again = await measure(server.pid, server.url, c.mode);
      if (again.otherCores < result.otherCores) result = again;
    }
    const r = result;
    say(
      `${tag}${c.label}: TTFB p50 ${r.ttfbP50Ms.toFixed(1)} ms, p99 ${r.ttfbP99Ms.toFixed(1)} ms, ` +
        `${formatCount(r.chunksPerCpuS)} chunks/CPU-s, ${r.streamsPerS.toFixed(1)} streams/s` +
        (r.failed + r.errors > 0 ? `  (WARNING: ${r.failed} failed streams, ${r.errors} errors)` : ''),
    );
    return { id: c.id, status: 'ok', result };
  } catch (err) {
    say(`${tag}${c.label}: failed (${(err as Error).message})`);
    return { id: c.id, status: 'failed', reason: (err as Error).message };
  } finally {
    await server.stop();
  }
}

// ---- setup, rounds -------------------------------------------------------------------------

if (selected.some((c) => c.id.startsWith('fastapi'))) ensureVenv(say);
const versions: Record<string, string> = {};
try {
  const script =
    'from importlib.metadata import version as v; ' + 'print(v("fastapi"), v("uvicorn"), v("sse-starlette"))';
  const found = execFileSync(VENV_PYTHON, ['-c', script], { encoding: 'utf8' }).trim().split(' ');
  ['fastapi', 'uvicorn', 'sse-starlette'].forEach((name, i) => (versions[name] = found[i] ?? 'unknown'));
} catch {
  // no bench/.venv: the FastAPI contenders say so
}
const info = runInfo(versions);
say(formatRunInfo(info));
say(
  `load: ${opts.connections} concurrent streams of ${CHUNKS} chunks, ` +
    `${opts.warmupS}s warm-up, ${opts.durationS}s measured per server`,
);
say();

const rounds: Outcome[][] = [];
for (let round = 1; round <= opts.rounds; round++) {
  const tag = opts.rounds > 1 ? `[round ${round}/${opts.rounds}] ` : '';
  const outcomes: Outcome[] = [];
  for (const c of selected) {
    const first = rounds[0]?.find((o) => o.id === c.id);
    outcomes.push(first?.status === 'unavailable' ? first : await runServer(c, tag));
  }
  rounds.push(outcomes);
}
/** A server's figures per round, in the shape bench/rounds.ts pairs (req → stream, latency → TTFB). */
const figuresOf = (id: string): (RoundFigures | undefined)[] =>
  rounds.map((outcomes) => {
    const r = outcomes.find((o) => o.id === id && o.status === 'ok')?.result;
    return (
      r && {
        requestsPerS: r.streamsPerS,
        p50Ms: r.ttfbP50Ms,
        p99Ms: r.ttfbP99Ms,
        requestsPerCpuS: r.chunksPerCpuS,
        cpuCores: r.cpuCores,
      }
    );
  });

// ---- table, goals --------------------------------------------------------------------------

const rows = [['server', 'streams/s', 'TTFB p50 ms', 'TTFB p99 ms', 'CPU cores', 'chunks/CPU-s', 'rounds']];
for (const c of selected) {
  const ran = figuresOf(c.id).filter((r) => r !== undefined);
  if (ran.length === 0) {
    rows.push([c.label, rounds.at(-1)!.find((o) => o.id === c.id)!.status, '', '', '', '', '0']);
    continue;
  }
  const m = medianFigures(ran);
  rows.push([
    c.label,
    m.requestsPerS.toFixed(1),
    m.p50Ms.toFixed(1),
    m.p99Ms.toFixed(1),
    m.cpuCores.toFixed(2),
    formatCount(m.requestsPerCpuS),
    String(ran.length),
  ]);
}
say();
if (opts.rounds > 1) say(`each figure: the median over ${opts.rounds} rounds`);
for (const line of alignTable(rows)) say(line);

const GOAL = { minPerCpu: 2, maxP99: 1 };
const comparisons = [
  ['cortex serve vs FastAPI, JSON lines', 'serve-ndjson', 'fastapi-stream'],
  ['cortex serve vs FastAPI, SSE', 'serve-sse', 'fastapi-sse'],
  ['gateway + serve vs FastAPI, JSON lines', 'gateway-ndjson', 'fastapi-stream'],
  ['gateway + serve vs FastAPI, SSE', 'gateway-sse', 'fastapi-sse'],
  // the bounds: how far from FastAPI the least possible server is (no goal)
  ['bare node:http (no Python) vs FastAPI, JSON lines', 'bare-node', 'fastapi-stream', 'bound'],
  ['bare asyncio+uvloop vs FastAPI, JSON lines', 'bare-python', 'fastapi-stream', 'bound'],
].map(([name, a, b, bound]) => {
  const paired = pairedRatios(figuresOf(a), figuresOf(b));
  if (!paired) return { name, verdict: 'N/A' as const };
  if (bound) return { name, ...paired, verdict: '(bound)' as const };
  const pass = paired.perCpuMedian >= GOAL.minPerCpu && paired.p99Median <= GOAL.maxP99;
  return { name, ...paired, verdict: pass ? ('PASS' as const) : ('MISS' as const) };
});
say();
say(`goal: ≥ ${GOAL.minPerCpu}× FastAPI's chunks per CPU-second, TTFB p99 no worse`);
const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
for (const c of comparisons) {
  const figures =
    'perCpuMedian' in c
      ? `${c.perCpuMedian.toFixed(2)}× chunks/CPU-s, TTFB p99 ${c.p99Median.toFixed(2)}×` +
        (opts.rounds > 1 ? `  [${list(c.perCpu)}; p99 ${list(c.p99)}]` : '')
      : 'n/a (a contender did not run)';
  say(`${c.name.padEnd(50)} ${figures}  ${c.verdict}`);
}

if (opts.json) {
  const doc = { ...info, settings: { ...opts, chunks: CHUNKS, body: BODY }, rounds, comparisons };
  const dir = join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `streaming-${doc.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  say(`\nwrote ${file}`);
  console.log(JSON.stringify(doc, null, 2));
}
const baselinesRan = selected
  .filter((c) => c.id.startsWith('fastapi'))
  .every((c) => figuresOf(c.id).some((r) => r !== undefined));
const missed = comparisons.filter((c) => c.verdict === 'MISS');
if (missed.length > 0) say(`\nMISSED: ${missed.map((c) => c.name).join('; ')}`);
process.exit(!baselinesRan ? 1 : missed.length > 0 ? 3 : 0);
