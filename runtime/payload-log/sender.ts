// The payload logger's way out: a bounded in-memory queue drained by a few concurrent POSTs to the
// sink. Nothing here runs on a request's critical path: enqueue() is O(1) and never waits; a sink
// that is slow or down fills the queue, and what does not fit is dropped and counted
// (cortex_payload_log_dropped_total), so requests are never slowed or failed by it.
import http from 'node:http';
import https from 'node:https';
import client from 'prom-client';
import { Deque } from '../deque.ts';
import type { JsonLogger } from '../../operator/util/log.ts';

/** One HTTP request to the sink: a CloudEvent in binary or structured mode. */
export interface SinkRequest {
  headers: Record<string, string>;
  body: Buffer;
}

export interface SenderOptions {
  url: string;
  api: string;
  /** Events held while the sink is busy; beyond this they are dropped. */
  queueSize: number;
  registry: client.Registry;
  logger: JsonLogger;
  /** POSTs in flight at once. Default 4. */
  concurrency?: number;
  /** A POST not answered within this is abandoned and its event counted as dropped. Default 5 s. */
  timeoutMs?: number;
}

export type DropReason = 'queue_full' | 'send_failed';

export class SinkSender {
  private readonly options: SenderOptions;
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly queue = new Deque<SinkRequest>();
  private active = 0;
  private readonly sent: client.Counter.Internal;
  private readonly dropped: Record<DropReason, client.Counter.Internal>;
  private idle: (() => void) | undefined;
  /** Logged once per failure streak, not per event. */
  private failing = false;

  constructor(options: SenderOptions) {
    this.options = options;
    this.url = new URL(options.url);
    const secure = this.url.protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    const registers = [options.registry];
    this.sent = new client.Counter({
      name: 'cortex_payload_log_events_total',
      help: 'Payload logging: CloudEvents the sink accepted (2xx).',
      labelNames: ['api'],
      registers,
    }).labels({ api: options.api });
    const dropped = new client.Counter({
      name: 'cortex_payload_log_dropped_total',
      help:
        'Payload logging: CloudEvents dropped (queue_full: the sink did not keep up; ' +
        'send_failed: it refused, failed or did not answer in time).',
      labelNames: ['api', 'reason'],
      registers,
    });
    this.dropped = {
      queue_full: dropped.labels({ api: options.api, reason: 'queue_full' }),
      send_failed: dropped.labels({ api: options.api, reason: 'send_failed' }),
    };
  }

  /** Whether an event would be queued now: callers skip building one that would be dropped. */
  get full(): boolean {
    return this.queue.length >= this.options.queueSize;
  }

  /** Counts an event dropped before it was built (the queue was full). */
  drop(reason: DropReason): void {
    this.dropped[reason].inc();
  }

  enqueue(request: SinkRequest): void {
    if (this.full) return this.drop('queue_full');
    this.queue.push(request);
    if (this.active < (this.options.concurrency ?? 4)) this.next();
  }

  /** Waits (at most timeoutMs) for the queue to empty: the replica is stopping. */
  async flush(timeoutMs: number): Promise<void> {
    if (this.queue.length === 0 && this.active === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs).unref();
      this.idle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  close(): void {
    this.agent.destroy();
  }

  private next(): void {
    const request = this.queue.shift();
    if (request === undefined) {
      if (this.active === 0) this.idle?.();
      return;
    }
    this.active++;
    this.post(request, (ok, why) => {
      this.active--;
      if (ok) {
        this.sent.inc();
        this.failing = false;
      } else {
        this.drop('send_failed');
        if (!this.failing) this.options.logger.warn(`payload logging: the sink ${this.url.origin} failed: ${why}`);
        this.failing = true;
      }
      this.next();
    });
  }

  private post(request: SinkRequest, done: (ok: boolean, why?: string) => void): void {
    let settled = false;
    const finish = (ok: boolean, why?: string) => {
      if (settled) return;
      settled = true;
      done(ok, why);
    };
    const send = this.url.protocol === 'https:' ? https.request : http.request;
    const req = send(this.url, {
      method: 'POST',
      agent: this.agent,
      headers: { ...request.headers, 'content-length': String(request.body.length) },
      timeout: this.options.timeoutMs ?? 5000,
    });
    req.on('response', (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      res.on('end', () => finish(status >= 200 && status < 300, `HTTP ${status}`));
      res.on('error', (e) => finish(false, e.message));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${this.options.timeoutMs ?? 5000} ms`)));
    req.on('error', (e) => finish(false, e.message));
    req.end(request.body);
  }
}
