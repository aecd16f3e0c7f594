// A real streaming upstream and clients for the tests of every hop a stream passes (the local
// gateway, the activator, `cortex proxy`): plain node:http, no mocks.
//
// The upstream answers three paths:
// - /lockstep: writes one Server-Sent Event, then waits for step() before the next (4 in all).
//   A hop that buffers the answer never passes the first one on, so the client never gets it:
//   the test fails by timing out instead of passing by luck.
// - /chunks?n=N&pause=MS: N events with a pause between them (text/event-stream).
// - /flood: 64 KiB chunks as fast as the connection takes them, forever, honouring
//   backpressure (it waits for 'drain'). With a client that reads nothing, what it has written is
//   bounded by what the hops in between hold: a hop that buffers lets it write without end.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export const FLOOD_CHUNK = Buffer.alloc(64 * 1024, 'x');

export interface StreamingUpstream {
  server: http.Server;
  port: number;
  /** Bytes /flood has handed to its connections. */
  flooded: number;
  /** Whether a /flood answer is waiting for its connection to drain (backpressure reached it). */
  blocked: boolean;
  /** Answers whose connection closed before they ended (a client or a hop went away). */
  cut: number;
  /** Resolves at the next answer cut short. */
  nextCut(): Promise<void>;
  /** Lets /lockstep write its next event. */
  step(): void;
  close(): void;
}

export async function streamingUpstream(host = '127.0.0.1', port = 0): Promise<StreamingUpstream> {
  let cutWaiters: (() => void)[] = [];
  let stepWaiters: (() => void)[] = [];
  const up: StreamingUpstream = {
    server: undefined as unknown as http.Server,
    port: 0,
    flooded: 0,
    blocked: false,
    cut: 0,
    nextCut: () => new Promise((resolve) => cutWaiters.push(resolve)),
    step() {
      const waiters = stepWaiters;
      stepWaiters = [];
      for (const w of waiters) w();
    },
    close() {
      up.server.closeAllConnections();
      up.server.close();
    },
  };
  up.server = http.createServer((req, res) => {
    if (req.url === '/readyz') return void res.writeHead(200).end();
    req.resume();
    let ended = false;
    res.on('close', () => {
      if (ended) return;
      up.cut++;
      const waiters = cutWaiters;
      cutWaiters = [];
      for (const w of waiters) w();
    });
    const finish = () => {
      ended = true;
      res.end();
    };
    const url = new URL(req.url ?? '/', 'http://x');
    void (async () => {
      if (url.pathname === '/flood') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        while (!res.destroyed) {
          up.flooded += FLOOD_CHUNK.length;
          if (!res.write(FLOOD_CHUNK)) {
            up.blocked = true;
            await new Promise<void>((resolve) => {
              const go = () => {
                res.off('drain', go).off('close', go);
                resolve();
              };
              res.on('drain', go).on('close', go);
            });
            up.blocked = false;
          }
        }
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const lockstep = url.pathname === '/lockstep';
      const n = lockstep ? 4 : Number(url.searchParams.get('n') ?? 5);
      const pause = Number(url.searchParams.get('pause') ?? 20);
      for (let i = 0; i < n && !res.destroyed; i++) {
        if (i > 0) {
          if (lockstep) await new Promise<void>((resolve) => stepWaiters.push(resolve));
          else await new Promise((resolve) => setTimeout(resolve, pause));
        }
        res.write(`data: ${i}\n\n`);
      }
      if (!res.destroyed) finish();
    })();
  });
  await new Promise<void>((resolve) => up.server.listen(port, host, resolve));
  up.port = (up.server.address() as AddressInfo).port;
  return up;
}

export interface StreamRead {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The chunks as the client's socket delivered them. */
  chunks: string[];
}

/**
 * GETs `path` and, for each chunk that arrives, calls `onChunk` (e.g. to step() the upstream);
 * resolves with everything at the end.
 */
export function readStream(
  port: number,
  path: string,
  options: { headers?: http.OutgoingHttpHeaders; onChunk?: (text: string, all: string) => void } = {},
): Promise<StreamRead> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: options.headers, agent: false }, (res) => {
      const chunks: string[] = [];
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        chunks.push(c);
        options.onChunk?.(c, chunks.join(''));
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, chunks }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * Sends a raw GET for `path` and reads nothing of the answer: the socket is paused, so the bytes
 * that came are only those the kernel buffers. close() hangs up.
 */
export async function stalledClient(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ close(): void }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const lines = [`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  socket.pause();
  socket.on('error', () => {});
  return { close: () => socket.destroy() };
}

/**
 * With a client that reads nothing, waits until the upstream stops writing (backpressure reached
 * it), and returns the bytes it wrote: at most the buffers of the sockets and of the hops in
 * between. Throws when it is still writing after `limit` bytes.
 */
export async function floodUntilBlocked(up: StreamingUpstream, limit: number, timeoutMs = 10_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  let steadyFor = 0;
  let last = -1;
  while (Date.now() < until) {
    if (up.flooded > limit) throw new Error(`the upstream wrote ${up.flooded} bytes to a client that reads none`);
    // blocked and no byte more for 300 ms: the hop holds what it holds, and no more
    steadyFor = up.blocked && up.flooded === last ? steadyFor + 50 : 0;
    if (steadyFor >= 300) return up.flooded;
    last = up.flooded;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the upstream neither stopped nor passed ${limit} bytes within ${timeoutMs} ms (${up.flooded})`);
}

/**
 * A hop's backpressure: with a client at `path` that reads nothing, the upstream is held back
 * (it wrote at most what the sockets and the hop buffer, and nothing more for 500 ms), and the
 * client hanging up closes the upstream connection too.
 */
export async function assertStalledClientHoldsBack(
  up: StreamingUpstream,
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<void> {
  const client = await stalledClient(port, path, headers);
  try {
    // Without backpressure the upstream writes on at memory speed, gigabytes; with it, only what
    // the loopback sockets' kernel buffers (a few MiB each) and the hop's stream buffers hold.
    const written = await floodUntilBlocked(up, 64 << 20);
    const heapBefore = process.memoryUsage().arrayBuffers;
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(up.flooded, written, 'nothing more was written while the client read nothing');
    assert.ok(process.memoryUsage().arrayBuffers - heapBefore < 8 * FLOOD_CHUNK.length, 'no growth in this process');
  } finally {
    const cut = up.nextCut();
    client.close();
    await cut; // the client left: the upstream's connection was closed too
  }
}
