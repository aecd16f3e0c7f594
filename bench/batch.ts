// npm run bench:batch: a 100,000-item BatchAPI job with a trivial handle_batch, with 1 and 4
// workers, on a real redis-server (test/helpers/redis-server.ts) and the local job runner with
// worker processes (runtime/batch/job-main.ts). Prints items per second (submission to end, and
// first batch taken to end) and items per CPU-second of everything the job ran: the runner, its
// workers, their Python processes and redis-server. Options: --items N, --batch-size N,
// --workers 1,4. Figures belong to the machine they were measured on (printed first).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { clockTicksPerSecond, cpuSecondsBetween, sampleTree } from './cpu.ts';
import { formatRunInfo, runInfo } from './run-info.ts';
import { alignTable } from './table.ts';
import { startBatchRun } from '../test/helpers/batch-job.ts';
import { redisMissing, startRedis } from '../test/helpers/redis-server.ts';

const TRIVIAL = `class Handler:
    def __init__(self, config):
        self.n = 0

    def handle_batch(self, payload, batch_id):
        self.n += len(payload)
`;

/** CPU ticks of this process's reaped children (the job runner, once it exited, with its descendants). */
function reapedChildrenTicks(): number {
  const text = readFileSync('/proc/self/stat', 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(f[13]) + Number(f[14]); // cutime cstime
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      items: { type: 'string', default: '100000' },
      'batch-size': { type: 'string', default: '100' },
      workers: { type: 'string', default: '1,4' },
    },
  });
  if (redisMissing) throw new Error(redisMissing);
  const items = Number(values.items);
  const batchSize = Number(values['batch-size']);
  const hz = clockTicksPerSecond();
  process.stdout.write(formatRunInfo(runInfo()) + '\n');
  const rows = [
    ['workers', 'items', 'batch size', 'items/s (submit→end)', 'items/s (running)', 'items/CPU-s', 'CPU s'],
  ];
  for (const workers of values.workers.split(',').map(Number)) {
    const redis = await startRedis();
    try {
      const redisTree = () => {
        const all = sampleTree(process.pid);
        for (const key of [...all.keys()]) if (key.startsWith(`${process.pid}:`)) all.delete(key);
        return all;
      };
      const before = { children: reapedChildrenTicks(), redis: redisTree() };
      const run = startBatchRun({
        queueUrl: redis.url,
        handler: TRIVIAL,
        job: {
          workers,
          itemList: { items: Array.from({ length: items }, (_, i) => i), batchSize },
          maxReceiveCount: 3,
        },
      });
      try {
        const status = await run.finished(1_800_000);
        if (status.status !== 'succeeded') throw new Error(`the job ended ${status.status}:\n${run.log()}`);
        const redisCpu = cpuSecondsBetween(before.redis, redisTree(), hz);
        const cpu = (reapedChildrenTicks() - before.children) / hz + redisCpu;
        const t = (k: string) => Date.parse(String(status[k])) / 1000;
        const total = t('end_time') - t('created_time');
        const running = t('end_time') - t('start_time');
        rows.push([
          String(workers),
          String(items),
          String(batchSize),
          (items / total).toFixed(0),
          (items / running).toFixed(0),
          (items / cpu).toFixed(0),
          cpu.toFixed(1),
        ]);
      } finally {
        run.cleanup();
      }
    } finally {
      await redis.close();
    }
  }
  process.stdout.write(alignTable(rows).join('\n') + '\n');
}

await main();
