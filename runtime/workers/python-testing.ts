// What the Python worker tests share: worker options for a fixture predictor, a worker whose
// JSON log lines (stdout and stderr) are collected as they come, and requests sent to it the way
// the dispatcher sends them. Each test file stops its workers with `after(() => stopWorkers(live))`.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PythonWorker } from './python.ts';
import type { PredictJob, PredictResult, WorkerOptions } from './types.ts';

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

/** Starting workers on the predictors of one fixture folder, each added to `live`. */
export function fixtureWorkers(dir: string, live: PythonWorker[]) {
  const spawnWorker = (file: string, over: Partial<WorkerOptions> = {}): LoggingWorker =>
    spawnLoggingWorker(fixtureOptions(dir, file, over), live);
  const startWorker = async (
    file: string,
    over: Partial<WorkerOptions> = {},
  ): Promise<Omit<LoggingWorker, 'started'>> => {
    const { worker, logs, started } = spawnWorker(file, over);
    await started;
    return { worker, logs };
  };
  return { spawnWorker, startWorker };
}

let nextId = 1;

export interface Req {
  body?: string | Buffer;
  contentType?: string | undefined;
  query?: string;
  headers?: [string, string][];
  rid?: string;
}

export function makeJob(r: Req, done: (result: PredictResult) => void): PredictJob {
  let calls = 0;
  return {
    id: nextId++,
    clientRequestId: r.rid,
    body: Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body ?? ''),
    contentType: 'contentType' in r ? r.contentType : 'application/json',
    query: r.query ?? '',
    rawHeaders: (r.headers ?? []).flat(),
    done(result) {
      calls++;
      assert.equal(calls, 1, 'done called more than once');
      done(result);
    },
  };
}

export function ask(worker: PythonWorker, r: Req): Promise<PredictResult> {
  return new Promise((resolve) => worker.send(makeJob(r, resolve)));
}

export function askBatch(worker: PythonWorker, reqs: Req[]): Promise<PredictResult>[] {
  const promises: Promise<PredictResult>[] = [];
  const jobs = reqs.map((r) => {
    let resolve!: (result: PredictResult) => void;
    promises.push(new Promise((res) => (resolve = res)));
    return makeJob(r, (result) => resolve(result));
  });
  worker.sendBatch(jobs);
  return promises;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the predictors' JSON answers, read field by field
export const json = (result: PredictResult): any => JSON.parse(result.body.toString('utf8'));
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor<T>(check: () => T | undefined | false, what: string, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
