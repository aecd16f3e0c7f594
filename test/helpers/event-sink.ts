// An HTTP sink on loopback for payload logging tests: keeps every POST (headers, body), answers 202,
// or, when `hang` is set, never answers (a sink that is down in the worst way).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SinkEvent {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The CloudEvents attributes of a binary-mode event: ce-* headers, percent-decoded, without the prefix. */
  ce: Record<string, string>;
}

export interface EventSink {
  url: string;
  events: SinkEvent[];
  /** POSTs received, answered or not. */
  received(): number;
  close(): Promise<void>;
}

export async function eventSink(options: { hang?: boolean } = {}): Promise<EventSink> {
  const events: SinkEvent[] = [];
  let received = 0;
  const server = http.createServer((req, res) => {
    received++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const ce: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (name.startsWith('ce-') && typeof value === 'string') ce[name.slice(3)] = decodeURIComponent(value);
      }
      events.push({ headers: req.headers, body: Buffer.concat(chunks), ce });
      if (!options.hang) res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    events,
    received: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
