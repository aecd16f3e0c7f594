// Writes a streamed answer (docs/streaming.md) to its HTTP client: chunked transfer, each chunk
// as it arrives; credit back to the producer for every byte the socket took (res.write true)
// or drained ('drain'), so a slow client slows the generator and the front buffers at most
// one window per stream; the client going away cancels the producer; a failure after the
// first byte ends the body with an error event (SSE, NDJSON) or aborts it (text, bytes).
import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { JsonLogger } from '../../operator/util/log.ts';
import type { AccessLog } from '../access-log.ts';
import type { Exchange } from '../exchanges.ts';
import type { RuntimeMetrics } from '../metrics.ts';
import { BodyKind, type PredictJob, type PredictResult, type StreamError } from '../workers/types.ts';

/** Whether an Accept header value lists text/event-stream (a stream of JSON values then becomes SSE). */
export function acceptsEventStream(accept: string): boolean {
  return accept.toLowerCase().includes('text/event-stream');
}

export interface StreamAnswerContext {
  /** performance.now() when the request was read. */
  started: number;
  draining: boolean;
  metrics: RuntimeMetrics;
  logger: JsonLogger;
  accessLog: AccessLog;
  /** The exchange is over (the front's in-flight bookkeeping). */
  release(): void;
}

/** The front's answer with a stream: headers, metrics, the access log line and a log line when it failed. */
export function answerStream(
  exchange: Exchange,
  job: PredictJob,
  result: PredictResult,
  ctx: StreamAnswerContext,
): void {
  const { started, metrics, logger, accessLog } = ctx;
  const headers: string[] = [];
  if (job.clientRequestId !== undefined) headers.push('X-Request-ID', job.clientRequestId);
  if (ctx.draining) headers.push('Connection', 'close');
  writeStream(exchange.res, result, {
    headers,
    onFirstByte: () => metrics.observeFirstByte((performance.now() - started) / 1000),
    onEnd: (error, clientGone) => {
      const seconds = (performance.now() - started) / 1000;
      metrics.observeStream(seconds);
      metrics.observeRequest(result.status, seconds);
      if (error !== undefined && logger.enabled('info')) {
        logger.info(
          clientGone
            ? 'client closed the connection during a stream; the stream was cancelled'
            : `stream failed: ${error.error}`,
          { request_id: job.clientRequestId ?? String(job.id) },
        );
      }
      if (accessLog.enabled) {
        const ms = Math.round(seconds * 1e6) / 1000;
        accessLog.answered(result.status, job.clientRequestId ?? job.id, ms, job.method, exchange.apiKey);
      }
      ctx.release();
    },
  });
}

export const streamContentTypes: Record<number, string> = {
  [BodyKind.Json]: 'application/x-ndjson',
  [BodyKind.Text]: 'text/plain; charset=utf-8',
  [BodyKind.Bytes]: 'application/octet-stream',
  [BodyKind.EventStream]: 'text/event-stream',
  [BodyKind.Ndjson]: 'application/x-ndjson',
};

/** Headers a stream never takes from the predictor: the front frames the body itself. */
const framing = new Set(['content-length', 'transfer-encoding', 'connection']);

export interface StreamWriteOptions {
  /** Extra headers (X-Request-ID, Connection: close while draining). */
  headers: string[];
  /** The first chunk was handed to the socket. */
  onFirstByte(): void;
  /** The stream ended (error: how it failed); called once, also when the client went away. */
  onEnd(error: StreamError | undefined, clientGone: boolean): void;
}

export function writeStream(res: http.ServerResponse, result: PredictResult, options: StreamWriteOptions): void {
  const stream = result.stream!;
  const headers: string[] = [];
  if (result.kind === BodyKind.Custom) {
    for (const [name, value] of result.headers ?? []) if (!framing.has(name.toLowerCase())) headers.push(name, value);
  } else {
    headers.push('Content-Type', streamContentTypes[result.kind] ?? 'application/octet-stream');
  }
  // Proxies (nginx, Envoy) would otherwise buffer what must arrive as it is produced.
  headers.push('Cache-Control', 'no-cache', 'X-Accel-Buffering', 'no', ...options.headers);
  res.writeHead(result.status, headers);
  const ownFraming = ownChunkFraming(res);
  let first = true;
  let ended = false;

  /** Bytes written while the socket was full: credited back on 'drain'. */
  let owed = 0;
  const drained = (): void => {
    const n = owed;
    owed = 0;
    stream.credit(n);
  };
  res.on('drain', drained);
  res.once('close', () => {
    if (ended) return;
    ended = true;
    stream.cancel();
    options.onEnd({ error: 'client closed the connection' }, true);
  });
  stream.pipe({
    chunk(data) {
      if (ended) return;
      if (first) {
        first = false;
        options.onFirstByte();
      }

      if (ownFraming && data.length === 0) return; // a zero-size chunk would end the body
      if (res.write(ownFraming ? chunkOf(data) : data)) {
        stream.credit(data.length + owed);
        owed = 0;
      } else {
        owed += data.length;
      }
    },
    end(error) {
      if (ended) return;
      ended = true;
      res.off('drain', drained);
      options.onEnd(error, false);
      const last = (text: string): void => {
        if (!ownFraming) return void res.end(text);
        res.end(text === '' ? LAST_CHUNK : Buffer.concat([chunkOf(Buffer.from(text)), LAST_CHUNK]));
      };
      if (error === undefined) {
        last('');
      } else if (result.kind === BodyKind.EventStream) {
        last(`event: error\ndata: ${JSON.stringify(error)}\n\n`);
      } else if (result.kind === BodyKind.Ndjson) {
        last(`${JSON.stringify(error)}\n`);
      } else {
        // Raw text or bytes have no place for an error: the connection ends (after what was
        // written) without the body's last chunk, so every HTTP client reports an incomplete answer
        // instead of taking a truncated one as whole. res.destroy() would drop unsent chunks.
        const socket = res.socket;
        if (socket === null) return res.destroy();
        socket.end();
        setTimeout(() => socket.destroy(), 5000).unref();
      }
    },
  });
}

const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

/**
 * Whether this stream writes its own chunked transfer-coding. Node frames each res.write() as
 * four socket writes (size, CRLF, data, CRLF) gathered into a writev; one buffer per chunk,
 * framed here, is a single write and a third of the front's JavaScript per chunk. Only when Node
 * chose chunked encoding (an HTTP/1.0 client gets a body that ends with the connection); the
 * headers already say `Transfer-Encoding: chunked`, so switching Node's framing off afterwards
 * changes nothing else (keep-alive, res.write()'s return value and 'drain' stay Node's).
 */
function ownChunkFraming(res: http.ServerResponse): boolean {
  if (!res.chunkedEncoding) return false;
  res.chunkedEncoding = false;
  return true;
}

/** One chunk of the chunked transfer-coding: size in hex, CRLF, the data, CRLF. */
export function chunkOf(data: Buffer): Buffer {
  const size = data.length.toString(16);
  const out = Buffer.allocUnsafe(size.length + data.length + 4);
  let at = out.write(size, 0, 'latin1');
  out[at++] = 13;
  out[at++] = 10;
  at += data.copy(out, at);
  out[at++] = 13;
  out[at] = 10;
  return out;
}
