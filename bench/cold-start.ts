// npm run bench:cold-start [-- --repeat N] [--only local|cluster] [--json]
//
// How long an API takes from nothing to its first answer, for the trivial predictor and the ONNX
// model (bench/fixtures), see docs/cold-start.md:
//   local    cortex deploy to first answer (dependency cache empty, then cached), and a replica
//            restart to first answer (cold-start/local.ts); the local environment has no scale to zero;
//   cluster  deploy (RealtimeAPI applied) to first answer, and wake from zero to first answer
//            through the activator, on the test control plane with real `cortex serve` replicas,
//            each wake broken down step by step (cold-start/cluster.ts).
// The goal: the ONNX model wakes from zero in under 1.5 s (median) with its dependencies
// installed; the bench prints PASS or MISS and exits 1 on a miss, so a regression shows.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatRunInfo, runInfo } from './run-info.ts';
import { measureCluster } from './cold-start/cluster.ts';
import { measureLocal } from './cold-start/local.ts';
import { formatSummaries, summarize, type Fixture, type Sample } from './cold-start/stats.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const GOAL_MS = 1500;
const GOAL = { env: 'cluster', api: 'onnx-mlp', scenario: 'wake from zero' };

const FIXTURES: Fixture[] = [
  { api: 'trivial', dir: path.join(here, 'fixtures', 'trivial'), body: '{"features":[5.1,3.5,1.4,0.2]}' },
  {
    api: 'onnx-mlp',
    dir: path.join(here, 'fixtures', 'onnx-mlp'),
    body: readFileSync(path.join(here, 'fixtures', 'onnx-mlp', 'sample.json'), 'utf8'),
  },
];

const { values } = parseArgs({
  options: {
    repeat: { type: 'string', default: '3' },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const repeat = Number(values.repeat);
if (!Number.isInteger(repeat) || repeat < 1)
  throw new Error(`--repeat must be a whole number >= 1, got ${values.repeat}`);
if (values.only !== undefined && values.only !== 'local' && values.only !== 'cluster')
  throw new Error(`--only must be local or cluster, got ${values.only}`);

const log = (line: string) => process.stderr.write(`${line}\n`);

const info = runInfo();
log(formatRunInfo(info));
const samples: Sample[] = [];
if (values.only !== 'cluster') {
  log(`local environment, ${repeat} repetition(s)`);
  samples.push(...(await measureLocal(FIXTURES, repeat, log)));
}
if (values.only !== 'local') {
  log(`cluster path, ${repeat} repetition(s)`);
  samples.push(...(await measureCluster(FIXTURES, repeat, log)));
}

const summaries = summarize(samples);
const goal = summaries.find((s) => s.env === GOAL.env && s.api === GOAL.api && s.scenario === GOAL.scenario);
const verdict =
  goal === undefined
    ? 'not measured (cluster path skipped)'
    : `${goal.medianMs < GOAL_MS ? 'PASS' : 'MISS'}: the ONNX model wakes from zero in ` +
      `${(goal.medianMs / 1000).toFixed(2)} s (median of ${goal.n}, ` +
      `max ${(goal.maxMs / 1000).toFixed(2)} s); goal < ${GOAL_MS / 1000} s`;
process.stdout.write(`${formatRunInfo(info)}\n\n${formatSummaries(summaries)}\n\n${verdict}\n`);

if (values.json) {
  const dir = path.join(here, 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `cold-start-${info.date.replaceAll(':', '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ runInfo: info, goalMs: GOAL_MS, verdict, summaries, samples }, null, 2)}\n`);
  log(`wrote ${path.relative(process.cwd(), file)}`);
}
if (goal !== undefined && goal.medianMs >= GOAL_MS) process.exitCode = 1;
