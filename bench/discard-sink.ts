// The receiver of `npm run bench:observability`: one loopback HTTP server that takes OTLP/HTTP
// trace exports (POST /v1/traces) and payload-logging CloudEvents (POST /events), reads each
// body and discards it, counting what came. It keeps nothing, so a long run stays flat; it runs
// in the bench's process, outside the measured server's process tree.
import http from 'node:http';

/** The port the fixture's payload_logging.url and the traced contenders' endpoint name. */
export const SINK_PORT = 18631;
export const OTLP_ENDPOINT = `http://127.0.0.1:${SINK_PORT}`;

export interface DiscardSink {
  /** Requests received per path. */
  counts: Map<string, number>;
  close(): Promise<void>;
}

export async function discardSink(port = SINK_PORT): Promise<DiscardSink> {
  const counts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      counts.set(req.url ?? '', (counts.get(req.url ?? '') ?? 0) + 1);
      // an empty protobuf message is a whole ExportTraceServiceResponse
      if (req.url === '/v1/traces') res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      else res.writeHead(202).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`port ${port} is in use: bench:observability's sink needs it (bench/discard-sink.ts)`)
          : error,
      ),
    );
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
