// Writes a streamed answer (docs/streaming.md) to its HTTP client: chunked transfer, each chunk
// as it arrives; credit back to the producer for every byte the socket took (res.write true)
// or drained ('drain'), so a slow client slows the generator and the front buffers at most
// one window per stream; the client going away cancels the producer; a failure after the
// first byte ends the body with an error event (SSE, NDJSON) or aborts it (text, bytes).
import type http from 'node:http';
import { BodyKind, type PredictResult, type StreamError } from '../workers/types.ts';

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
  let first = true;
  let ended = false;
  let corked = false;
  const uncork = (): void => {
    if (!corked) return;
    corked = false;
    res.uncork();
  };
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
      // The chunks that arrived together (one read from the worker) leave in one write.
      if (!corked) {
        corked = true;
        res.cork();
        process.nextTick(uncork);
      }
      if (res.write(data)) {
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
      uncork(); // end() on a corked response loses what was written since the cork
      options.onEnd(error, false);
      if (error === undefined) {
        res.end();
      } else if (result.kind === BodyKind.EventStream) {
        res.end(`event: error\ndata: ${JSON.stringify(error)}\n\n`);
      } else if (result.kind === BodyKind.Ndjson) {
        res.end(`${JSON.stringify(error)}\n`);
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
