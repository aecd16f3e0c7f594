// What the Python worker tests share: worker options for a fixture predictor, and a worker whose
// JSON log lines (stdout and stderr) are collected as they come. Each test file stops its
// workers with `after(() => stopWorkers(live))`.
import { join } from 'node:path';
import { PythonWorker } from './python.ts';
import type { WorkerOptions } from './types.ts';

export function fixtureOptions(dir: string, file: string, over: Partial<WorkerOptions> = {}): WorkerOptions {
  return {
    api: 'test-api',
    projectDir: dir,
    predictorPath: join(dir, file),
    config: {},
    pythonPath: [],
    env: {},
    threads: 1,
    batching: false,
    index: 3,
    logLevel: 'info',
    ...over,
  };
}

export interface LoggingWorker {
  worker: PythonWorker;
  /** Every JSON log line the worker wrote so far (stdout and stderr). */
  logs: Record<string, unknown>[];
  started: Promise<void>;
}

/** Starts a worker (added to `live`) that pipes its logs into `logs`. */
export function spawnLoggingWorker(options: WorkerOptions, live: PythonWorker[]): LoggingWorker {
  const worker = new PythonWorker(options, { stdio: 'pipe' });
  live.push(worker);
  const started = worker.start(); // spawns the process: its stdout and stderr exist from here
  const logs: Record<string, unknown>[] = [];
  for (const stream of [worker.stdout!, worker.stderr!]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (text: string) => {
      const lines = (rest + text).split('\n');
      rest = lines.pop()!;
      for (const line of lines) logs.push(JSON.parse(line) as Record<string, unknown>);
    });
  }
  return { worker, logs, started };
}

export async function stopWorkers(live: PythonWorker[]): Promise<void> {
  await Promise.all(live.map((w) => w.shutdown(1000)));
}
