// npm run bench:peers [-- --duration 10 --connections 32 --warmup 3 --idle-wait 20 --retries 1
//                        --only cortex,bentoml,... --load wrk|autocannon --json]
//
// One ONNX MLP (bench/fixtures/onnx-mlp) served by cortex serve, with and without server-side
// batching, and by each peer (BentoML, Ray Serve, KServe, LitServe, PyTriton) in its documented
// form, one after another on a quiet machine; each gets the same load and is compared on
// requests per CPU-second of its whole process tree and p99. Target: cortex >= 1.5x the best
// peer per CPU-second with p99 no worse; exits 1 on a MISS. See docs/peers.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pickLoadGenerator } from './load.ts';
import { parseLoadBenchOptions } from './options.ts';
import { formatRunInfo, runInfo } from './run-info.ts';
import { BENCH_DIR } from './servers.ts';
import { REQUEST_FORMS, type Answer } from './peers/answers.ts';
import { launch, type Running } from './peers/launch.ts';
import { measure, QUIET, waitForIdle } from './measure.ts';
import { FIXTURE, PEERS_DIR, SERVERS } from './peers/registry.ts';
import { ensurePeerVenv, pinnedVersions } from './peers/venv.ts';
import { table, verdicts, type Outcome } from './peers/report.ts';

const USAGE = `usage: npm run bench:peers -- [options]
  --duration S      measured seconds per server (default 10)
  --connections N   concurrent keep-alive connections (default 32: twice the batch size of 16)
  --warmup S        unmeasured seconds of load before measuring (default 3)
  --idle-wait S     before each server, wait up to S seconds for the machine to be idle (default 20)
  --retries N       measure again (up to N times) when other work disturbed the interval (default 1)
  --only IDS        comma-separated subset of: ${SERVERS.map((s) => s.id).join(', ')}
  --load NAME       force the load generator: wrk or autocannon
  --json            write bench/results/peers-<timestamp>.json and print it on stdout (the table goes to stderr)`;

const opts = parseLoadBenchOptions(
  SERVERS.map((s) => s.id),
  { duration: 10, connections: 32, warmup: 3, retries: 1 },
  USAGE,
);
const { durationS, connections, warmupS, idleWaitS, retries } = opts;
const selected = SERVERS.filter((s) => opts.ids.includes(s.id));
// With --json, stdout carries only the JSON document.
const say = (msg = '') => (opts.json ? console.error(msg) : console.log(msg));

// ---- setup: load generator, venvs, the expected answer --------------------------------------

const load = await pickLoadGenerator(opts.load, say);
const outcomes: Outcome[] = [];
const pythons = new Map<string, string>();
const versions: Record<string, string> = { [load.name]: load.version };
Object.assign(versions, pinnedVersions(join(FIXTURE, 'requirements.txt'), ['onnxruntime', 'numpy']));
for (const s of selected) {
  if (!s.requirements) continue;
  for (const [name, v] of Object.entries(pinnedVersions(s.requirements, s.packages)))
    versions[name === 'numpy' ? `numpy (${s.id})` : name] = v;
  const why = s.unavailable?.();
  if (why) continue;
  try {
    pythons.set(s.id, ensurePeerVenv(s.id, s.requirements, say));
  } catch (err) {
    pythons.set(s.id, '');
    const reason = `its venv could not be built: ${(err as Error).message}`;
    outcomes.push({ ...pick(s), status: 'unavailable', reason });
  }
}
// onnxruntime's own answer for the sample, from a venv with just the fixture's requirements.
const referencePython = ensurePeerVenv('reference', join(FIXTURE, 'requirements.txt'), say);
const expected = JSON.parse(
  execFileSync(referencePython, [join(PEERS_DIR, 'reference.py')], { encoding: 'utf8' }),
) as Answer;
const features = (JSON.parse(readFileSync(join(FIXTURE, 'sample.json'), 'utf8')) as { features: number[] }).features;

const info = runInfo(versions);
say(formatRunInfo(info));
say(
  `load: ${load.name} ${load.version}, one thread, ${connections} connections, ` +
    `${warmupS}s warm-up, ${durationS}s measured per server; expected label ${expected.label}`,
);
say();

function pick(s: (typeof SERVERS)[number]) {
  return { id: s.id, label: s.label, side: s.side, batching: s.batching };
}

// ---- one server after another ---------------------------------------------------------------

let current: Running | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

for (const s of selected) {
  if (outcomes.some((o) => o.id === s.id)) {
    say(`${s.label}: unavailable (${outcomes.find((o) => o.id === s.id)!.reason!.split('\n')[0]})`);
    continue;
  }
  const why = s.unavailable?.();
  if (why) {
    say(`${s.label}: unavailable (${why})`);
    outcomes.push({ ...pick(s), status: 'unavailable', reason: why });
    continue;
  }
  const body = JSON.stringify(REQUEST_FORMS[s.request](features));
  say(`${s.label}: starting (batching: ${s.batching}) ...`);
  try {
    current = await launch(s, pythons.get(s.id) ?? '', body, expected);
  } catch (err) {
    const reason = (err as Error).message;
    say(`${s.label}: unavailable (${reason.split('\n')[0]})`);
    say(
      reason
        .split('\n')
        .slice(1)
        .map((l) => `    ${l}`)
        .join('\n'),
    );
    outcomes.push({ ...pick(s), status: 'unavailable', reason });
    continue;
  }
  const server = current;
  try {
    if (warmupS > 0) await load.run({ url: server.url, body, connections, durationS: warmupS });
    const once = async () =>
      measure({
        load,
        pid: server.pid,
        url: server.url,
        body,
        connections,
        durationS,
        busyBeforeCores: await waitForIdle(idleWaitS),
        worker: s.worker,
      });
    // Numbers from a machine busy with something else are not comparable: measure again.
    let result = await once();
    for (let retry = 1; retry <= retries && result.otherCores > QUIET; retry++) {
      say(`${s.label}: other work kept ${result.otherCores.toFixed(2)} cores busy; measuring again`);
      const again = await once();
      if (again.otherCores < result.otherCores) result = again;
    }
    say(
      `${s.label}: ${Math.round(result.requestsPerS)} req/s, p99 ${result.p99Ms.toFixed(2)} ms, ` +
        `${Math.round(result.requestsPerCpuS)} req/CPU-s over ${result.processes} processes`,
    );
    outcomes.push({ ...pick(s), status: 'ok', url: server.url, result });
  } catch (err) {
    say(`${s.label}: failed (${(err as Error).message})`);
    outcomes.push({ ...pick(s), status: 'failed', reason: (err as Error).message });
  } finally {
    await server.stop();
    current = undefined;
  }
}

// ---- table, ratios against the best peer, target ----------------------------------------------

const { best, comparisons, verdict } = verdicts(outcomes);
say();
for (const line of table(outcomes, best)) say(line);
say();
if (!best) say('no peer ran: nothing to compare with');
for (const c of comparisons) say(c.text);
say(`\ntarget (cortex >= 1.5x the best peer's req/CPU-s, p99 no worse): ${verdict}`);

if (opts.json) {
  const doc = {
    ...info,
    settings: { durationS, warmupS, connections, idleWaitS },
    servers: outcomes,
    best,
    comparisons,
    verdict,
  };
  const dir = join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `peers-${info.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  say(`wrote ${file}`);
  console.log(JSON.stringify(doc, null, 2));
}
process.exit(verdict === 'PASS' ? 0 : 1);
