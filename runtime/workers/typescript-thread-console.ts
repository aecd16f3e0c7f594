// Console capture for a TypeScript predictor's thread: everything the predictor writes through
// console.* (and the thread's own error reports) becomes one JSON line on the thread's stdout,
// {"time","level","api","worker","request_id","message"}, filtered by the API's log level.
// The request id is that of the job (or the comma-joined ids of the batch) in progress: kept
// in a plain variable while a synchronous predict runs, in AsyncLocalStorage for async ones.

import { workerData } from 'node:worker_threads';
import { AsyncLocalStorage } from 'node:async_hooks';
import { format } from 'node:util';
import type { Job } from './typescript-job-codec.ts';
import type { ThreadConfig } from './typescript-thread.ts';

const cfg = workerData as ThreadConfig;
const LEVELS: Record<string, number> = { debug: 10, info: 20, warning: 30, error: 40 };
const minLevel = LEVELS[cfg?.logLevel] ?? 20;

/** What logs name as the request: a job, a batch of jobs, or nothing. */
export type LogScope = Job | Job[] | null;

export const requestScope = new AsyncLocalStorage<LogScope>();
/**
 * `syncScope.current`: the scope of the synchronous predict call in progress (cheaper than
 * AsyncLocalStorage). An object so that the code calling predict can set it.
 */
export const syncScope: { current: LogScope } = { current: null };

function ridOf(job: Job): string {
  return job.clientRid ?? String(job.id);
}

function scopeRid(scope: LogScope | undefined): string | null {
  if (scope === null || scope === undefined) return null;
  if (Array.isArray(scope)) return scope.map(ridOf).join(',');
  return ridOf(scope);
}

// Lines are written once per event-loop turn (one message to the front, not one per line),
// right away when the oldest waiting line is 50 ms old (a long synchronous predict that logs
// progress), and on exit.
let logBuffer = '';
let logSince = 0;
let logFlushScheduled = false;

function flushLogs(): void {
  logFlushScheduled = false;
  if (logBuffer === '') return;
  const chunk = logBuffer;
  logBuffer = '';
  process.stdout.write(chunk);
}

/** One log line; `scope` undefined: the request in progress, null: none. */
export function writeLog(level: string, message: string, scope?: LogScope): void {
  if ((LEVELS[level] ?? 20) < minLevel) return;
  const s = scope === undefined ? (requestScope.getStore() ?? syncScope.current) : scope;
  const now = new Date();
  const line = JSON.stringify({
    time: now.toISOString(),
    level,
    api: cfg.api,
    worker: cfg.index,
    request_id: scopeRid(s),
    message,
  });
  const t = now.getTime();
  if (logBuffer === '') logSince = t;
  logBuffer += line + '\n';
  if (logBuffer.length > 65536 || t - logSince >= 50) flushLogs();
  else if (!logFlushScheduled) {
    logFlushScheduled = true;
    setImmediate(flushLogs);
  }
}

function consoleMethod(level: string): (...args: unknown[]) => void {
  const n = LEVELS[level];
  return (...args: unknown[]) => {
    if (n >= minLevel) writeLog(level, format(...args));
  };
}

/** Routes console.log/info/debug/warn/error into JSON lines; waiting lines are written on exit. */
export function captureConsole(): void {
  process.on('exit', flushLogs);
  console.log = consoleMethod('info');
  console.info = consoleMethod('info');
  console.debug = consoleMethod('debug');
  console.warn = consoleMethod('warning');
  console.error = consoleMethod('error');
}
