// What the HTTP front tells the optional observers of a request: traces (runtime/tracing/) and
// payload logging (runtime/payload-log/). The server and the dispatcher hold one RequestObserver,
// or undefined when both are off: their hot path then costs one undefined check.
import type { PayloadLog } from './payload-log/payload-log.ts';
import type { RequestTracing } from './tracing/tracer.ts';
import type { PredictJob, PredictResult } from './workers/types.ts';

export class RequestObserver {
  readonly tracing: RequestTracing | undefined;
  readonly payloadLog: PayloadLog | undefined;

  constructor(tracing: RequestTracing | undefined, payloadLog: PayloadLog | undefined) {
    this.tracing = tracing;
    this.payloadLog = payloadLog;
  }

  /** The request's body arrived; it goes to the dispatcher next. `started`: performance.now() at arrival. */
  arrived(job: PredictJob, method: string, url: string, started: number): void {
    if (this.tracing !== undefined) {
      const q = url.indexOf('?');
      this.tracing.begin(job, method, q < 0 ? url : url.slice(0, q), started);
    }
    if (this.payloadLog !== undefined) {
      const id = this.payloadLog.request(job, method);
      if (id !== undefined) job.logId = id;
    }
  }

  /** The dispatcher hands jobs to a worker. */
  sent(jobs: readonly PredictJob[], batching: boolean): void {
    this.tracing?.sent(jobs, batching);
  }

  /** The answer was written (a stream: its first chunk; the request's span then ends with the stream). */
  answered(job: PredictJob, result: PredictResult): void {
    if (job.logId !== undefined) this.payloadLog?.response(job.logId, job, result);
    const tracing = this.tracing;
    if (tracing === undefined || job.trace === undefined) return;
    if (result.stream === undefined) return tracing.finish(job, result.status);
    result.stream.onFinish(() => tracing.finish(job, result.status));
  }

  /** The client went away before its answer. */
  abandoned(job: PredictJob): void {
    this.tracing?.abandon(job);
  }

  /** The replica stops: what is buffered is sent, for at most `timeoutMs` (a collector that is down holds nothing). */
  async close(timeoutMs: number): Promise<void> {
    const flushed = Promise.all([this.tracing?.shutdown(), this.payloadLog?.close(timeoutMs)]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([flushed, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs).unref()))]);
    clearTimeout(timer);
  }
}

/**
 * The replica's tracing, from the standard OTEL_* variables of `env` (the process's environment
 * with predictor.env on top): undefined when no OTLP endpoint is set, and then the OpenTelemetry
 * SDK is not even loaded. Throws TracingConfigError for settings it cannot honour.
 */
export async function startTracing(
  api: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<RequestTracing | undefined> {
  const { tracingConfig } = await import('./tracing/config.ts');
  const config = tracingConfig(env);
  if (config === undefined) return undefined;
  const { RequestTracing } = await import('./tracing/tracer.ts');
  return new RequestTracing(api, config);
}
