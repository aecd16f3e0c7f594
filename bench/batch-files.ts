// npm run bench:batch-files: how fast a delimited_files job is enqueued and how much memory that
// takes, where the operator does it: one newline-delimited JSON object of --lines lines (default
// 1,000,000) in moto's S3 server on loopback, read line by line and enqueued in batches of
// --batch-size (default 100) onto a real redis-server by runtime/batch/enqueue.ts, in a process
// with the operator's V8 flags (a 160 MiB old generation, operator/node-flags.ts). Prints lines
// per second and the process's peak RSS: the file is never held whole, so the RSS stays flat
// whatever its size. Figures belong to the machine they were measured on (printed first).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatRunInfo, runInfo } from './run-info.ts';
import { operatorNodeFlags } from '../operator/node-flags.ts';
import { openBroker } from '../runtime/queue/open.ts';
import { enqueueBatches } from '../runtime/batch/enqueue.ts';
import { batchStream } from '../runtime/batch/job-keys.ts';
import { redisMissing, startRedis } from '../test/helpers/redis-server.ts';
import { S3_CREDENTIALS, putS3, startMoto } from '../test/helpers/storage-servers.ts';

/** The child: enqueues the job and prints {batches, seconds, maxRssMiB} as JSON. */
async function child(queueUrl: string, batchSize: number): Promise<void> {
  const broker = openBroker(queueUrl);
  const ref = { api: 'bench', id: 'files' };
  const started = performance.now();
  const batches = await enqueueBatches(broker, ref, {
    api: 'bench',
    workers: 1,
    config: {},
    maxReceiveCount: 3,
    delimitedFiles: { s3Paths: ['s3://bench/lines.jsonl'], batchSize },
  });
  const seconds = (performance.now() - started) / 1000;
  await broker.deleteStream(batchStream(ref));
  await broker.close();
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ batches, seconds, maxRssMiB }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      lines: { type: 'string', default: '1000000' },
      'batch-size': { type: 'string', default: '100' },
      child: { type: 'string' },
    },
  });
  const batchSize = Number(values['batch-size']);
  if (values.child !== undefined) return child(values.child, batchSize);
  if (redisMissing) throw new Error(redisMissing);
  const lines = Number(values.lines);
  process.stdout.write(`${formatRunInfo(runInfo())}\n`);
  const [moto, redis] = await Promise.all([startMoto(), startRedis()]);
  try {
    const body = Array.from({ length: lines }, (_, i) => JSON.stringify({ id: i, text: `item number ${i}` }));
    const text = `${body.join('\n')}\n`;
    await putS3(moto.s3, 'bench', { 'lines.jsonl': text });
    const out = execFileSync(
      process.execPath,
      [...operatorNodeFlags, fileURLToPath(import.meta.url), '--child', redis.url, '--batch-size', String(batchSize)],
      { env: { ...process.env, ...S3_CREDENTIALS, AWS_ENDPOINT_URL: moto.url }, encoding: 'utf8' },
    );
    const r = JSON.parse(out) as { batches: number; seconds: number; maxRssMiB: number };
    const mib = (Buffer.byteLength(text) / 2 ** 20).toFixed(1);
    process.stdout.write(
      `delimited_files: ${lines} lines (${mib} MiB) in ${r.batches} batches of ${batchSize}: ` +
        `${r.seconds.toFixed(1)} s, ${Math.round(lines / r.seconds)} lines/s, peak RSS ${r.maxRssMiB.toFixed(0)} MiB\n`,
    );
  } finally {
    await moto.stop();
    await redis.close();
  }
}

await main();
