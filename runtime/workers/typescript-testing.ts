// What the TypeScriptWorker tests share: a worker on a predictor in fixtures-ts/ (real worker
// threads) whose stdout and log lines are collected, and requests sent to it the way the
// dispatcher sends them. Each test file stops its workers with `after(stopStarted)`.
import { fileURLToPath } from 'node:url';
import { type PredictResult, type WorkerExit, type WorkerOptions } from './types.ts';
import { TypeScriptWorker } from './typescript.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures-ts/', import.meta.url));

export interface Harness {
  worker: TypeScriptWorker;
  /** The thread's stdout lines and the worker's own log lines. */
  logs: string[];
  exits: WorkerExit[];
}

const started: TypeScriptWorker[] = [];
/** Stops every worker this file started (those a test has not shut down). */
export async function stopStarted(): Promise<void> {
  await Promise.all(started.map((w) => w.shutdown(200)));
}

function options(fixture: string, overrides: Partial<WorkerOptions> = {}): WorkerOptions {
  return {
    api: 'test-api',
    projectDir: FIXTURES,
    predictorPath: FIXTURES + fixture,
    config: {},
    pythonPath: [],
    env: {},
    threads: 1,
    batching: false,
    index: 0,
    logLevel: 'info',
    ...overrides,
  };
}

export function create(fixture: string, overrides: Partial<WorkerOptions> = {}): Harness {
  const logs: string[] = [];
  const exits: WorkerExit[] = [];
  const worker = new TypeScriptWorker(options(fixture, overrides), {
    pipeStdout: true,
    log: (line) => logs.push(line),
  });
  worker.onExit((e) => exits.push(e));
  started.push(worker);
  return { worker, logs, exits };
}

export async function launch(fixture: string, overrides: Partial<WorkerOptions> = {}): Promise<Harness> {
  const h = create(fixture, overrides);
  const ready = h.worker.start();
  collect(h);
  await ready;
  return h;
}

export function collect(h: Harness): void {
  let rest = '';
  h.worker.stdout!.setEncoding('utf8');
  h.worker.stdout!.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    h.logs.push(...lines);
  });
}

/** The next job id (a test may take one for a request it sends itself). */
export let nextId = 1;

export interface Req {
  body?: string | Buffer;
  contentType?: string | null;
  query?: string;
  rawHeaders?: string[];
  rid?: string;
  id?: number;
}

export function job(r: Req, done: (res: PredictResult) => void) {
  return {
    id: r.id ?? nextId++,
    clientRequestId: r.rid,
    body: typeof r.body === 'string' ? Buffer.from(r.body) : (r.body ?? Buffer.from('{}')),
    contentType: r.contentType === null ? undefined : (r.contentType ?? 'application/json'),
    query: r.query ?? '',
    rawHeaders: r.rawHeaders ?? [],
    done,
  };
}

export function request(worker: TypeScriptWorker, r: Req = {}): Promise<PredictResult> {
  return new Promise((resolve) => worker.send(job(r, resolve)));
}

export function batch(worker: TypeScriptWorker, rs: Req[]): Promise<PredictResult[]> {
  return Promise.all(
    (() => {
      const promises: Promise<PredictResult>[] = [];
      const jobs = rs.map((r) => job(r, () => {}));
      for (const j of jobs) promises.push(new Promise((resolve) => (j.done = resolve)));
      worker.sendBatch(jobs);
      return promises;
    })(),
  );
}

export const json = (r: PredictResult): unknown => JSON.parse(r.body.toString('utf8'));

export async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}
