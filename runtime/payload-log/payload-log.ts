// predictor.payloadLogging (docs/payload-logging.md): a sampled copy of each API's requests and
// responses, sent to an HTTP sink as CloudEvents as KServe's logger does. The front calls request()
// once a body has arrived and response() once its answer was written; both only copy what the event
// needs (the body up to maxBodyBytes, the headers with secrets redacted) and queue it (sender.ts).
// A request and its response share a ce-id; ce-type tells them apart. Only the sampling coin is
// tossed on the request path: the copies are made in a setImmediate, after the answers of the
// current I/O callbacks were written.
import { randomUUID } from 'node:crypto';
import type client from 'prom-client';
import type { JsonLogger } from '../../operator/util/log.ts';
import { ALWAYS_REDACTED_HEADERS, type PayloadLoggingSpec } from '../../operator/api/v1alpha1/index.ts';
import { BodyKind, type PredictJob, type PredictResult } from '../workers/types.ts';
import { binaryRequest, structuredRequest, type CloudEvent } from './cloudevents.ts';
import { SinkSender } from './sender.ts';

export const REQUEST_TYPE = 'org.cortex.request';
export const RESPONSE_TYPE = 'org.cortex.response';
export const REDACTED = 'REDACTED';

const kindTypes: Record<number, string> = {
  [BodyKind.Json]: 'application/json',
  [BodyKind.Text]: 'text/plain; charset=utf-8',
  [BodyKind.Bytes]: 'application/octet-stream',
  [BodyKind.EventStream]: 'text/event-stream',
  [BodyKind.Ndjson]: 'application/x-ndjson',
};

export interface PayloadLogOptions {
  api: string;
  spec: PayloadLoggingSpec;
  registry: client.Registry;
  logger: JsonLogger;
  /** For tests: the sampling coin. */
  random?: () => number;
  /** For tests: a POST to the sink not answered within this is dropped. Default 5 s. */
  timeoutMs?: number;
}

export class PayloadLog {
  private readonly spec: PayloadLoggingSpec;
  private readonly api: string;
  private readonly source: string;
  private readonly redacted: ReadonlySet<string>;
  private readonly random: () => number;
  readonly sender: SinkSender;

  constructor(options: PayloadLogOptions) {
    this.spec = options.spec;
    this.api = options.api;
    this.source = `/cortex/apis/${encodeURIComponent(options.api)}`;
    this.redacted = new Set([...ALWAYS_REDACTED_HEADERS, ...options.spec.redactHeaders.map((h) => h.toLowerCase())]);
    this.random = options.random ?? Math.random;
    this.sender = new SinkSender({
      url: options.spec.url,
      api: options.api,
      queueSize: options.spec.queueSize,
      registry: options.registry,
      logger: options.logger,
      timeoutMs: options.timeoutMs,
    });
  }

  /** A request arrived: returns the id its response is logged under, or undefined when it is not sampled. */
  request(job: PredictJob, method: string): string | undefined {
    const rate = this.spec.sampleRate;
    if (rate <= 0 || (rate < 1 && this.random() >= rate)) return undefined;
    const id = randomUUID();
    // the copy is made after the current I/O callbacks (the answers they write) have run
    if (this.spec.mode !== 'response') setImmediate(() => this.logRequest(id, job, method));
    return id;
  }

  private logRequest(id: string, job: PredictJob, method: string): void {
    if (this.sender.full) return this.sender.drop('queue_full');
    const headers: Record<string, string> = {};
    const raw = job.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toLowerCase();
      const value = this.redacted.has(name) ? REDACTED : raw[i + 1];
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const extensions: CloudEvent['extensions'] = { cortexapi: this.api, cortexmethod: method };
    if (job.query !== '') extensions.cortexquery = job.query;
    this.send(id, REQUEST_TYPE, job.contentType, job.body, headers, extensions, job.clientRequestId);
  }

  /** The answer to the request logged under `id` was written (a stream: its first chunk). */
  response(id: string, job: PredictJob, result: PredictResult): void {
    if (this.spec.mode !== 'request') setImmediate(() => this.logResponse(id, job, result));
  }

  private logResponse(id: string, job: PredictJob, result: PredictResult): void {
    if (this.sender.full) return this.sender.drop('queue_full');
    const headers: Record<string, string> = {};
    let contentType = kindTypes[result.kind];
    for (const [name, value] of result.headers ?? []) {
      const lower = name.toLowerCase();
      if (lower === 'content-type') contentType = value;
      headers[lower] = this.redacted.has(lower) ? REDACTED : value;
    }
    const extensions: CloudEvent['extensions'] = { cortexapi: this.api, cortexstatus: result.status };
    // a stream's chunks are not copied: only its status and headers
    if (result.stream !== undefined) extensions.cortexstreamed = true;
    this.send(id, RESPONSE_TYPE, contentType, result.body, headers, extensions, job.clientRequestId);
  }

  /** Sends what is queued (at most timeoutMs), then closes the connections. */
  async close(timeoutMs: number): Promise<void> {
    await this.sender.flush(timeoutMs);
    this.sender.close();
  }

  private send(
    id: string,
    type: string,
    contentType: string | undefined,
    body: Buffer,
    headers: Record<string, string>,
    extensions: CloudEvent['extensions'],
    requestId: string | undefined,
  ): void {
    const max = this.spec.maxBodyBytes;
    const truncated = body.length > max;
    // a copy: the event may outlive the request by seconds, and must not hold a large body alive
    const data = Buffer.from(truncated ? body.subarray(0, max) : body);
    if (truncated) {
      extensions.cortextruncated = true;
      extensions.cortexbodysize = body.length;
    }
    if (requestId !== undefined) extensions.cortexrequestid = requestId;
    extensions.cortexheaders = JSON.stringify(headers);
    const event: CloudEvent = {
      id,
      source: this.source,
      type,
      time: new Date().toISOString(),
      datacontenttype: contentType,
      extensions,
      data,
    };
    this.sender.enqueue(this.spec.format === 'structured' ? structuredRequest(event, truncated) : binaryRequest(event));
  }
}
