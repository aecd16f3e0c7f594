// HTTP clients for streamed answers (test/streaming.test.ts): one that records when each chunk
// arrived and how the body ended, and one that reads a single byte a second (a slow client).
import { spawn } from 'node:child_process';
import http from 'node:http';

export interface Chunk {
  /** ms since the request was sent */
  at: number;
  text: string;
}

export interface Streamed {
  status: number;
  headers: http.IncomingHttpHeaders;
  chunks: Chunk[];
  body: string;
  /** The body ended without its terminating chunk (the connection closed mid-body). */
  aborted: boolean;
}

export interface StreamRequest {
  url: string;
  payload: unknown;
  headers?: Record<string, string>;
  /** Destroy the connection once this returns true for the body so far. */
  leaveWhen?: (body: string) => boolean;
}

export function streamRequest({ url, payload, headers = {}, leaveWhen }: StreamRequest): Promise<Streamed> {
  const data = JSON.stringify(payload);
  const sent = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers },
      agent: false,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Chunk[] = [];
      let body = '';
      let settled = false;
      const done = (aborted: boolean) => {
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode!, headers: res.headers, chunks, body, aborted });
      };
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        chunks.push({ at: performance.now() - sent, text });
        body += text;
        if (leaveWhen?.(body)) {
          req.destroy();
          done(false);
        }
      });
      res.on('end', () => done(false));
      res.on('aborted', () => done(true));
      res.on('error', () => done(true));
      res.on('close', () => done(!res.complete));
    });
    req.end(data);
  });
}

/**
 * A client with a 4 KiB receive buffer that reads one byte a second for `seconds`, then closes:
 * a real socket (Python's), since Node cannot shrink its receive buffer. Resolves when it closed.
 */
export function slowClient(port: number, payload: unknown, seconds: number): Promise<void> {
  const script = `
import json, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", ${port}))
body = sys.argv[1].encode()
head = b"POST / HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/json\\r\\n"
s.sendall(head + b"Content-Length: %d\\r\\n\\r\\n" % len(body) + body)
for _ in range(${seconds}):
    if not s.recv(1):
        sys.exit("the server closed the stream")
    time.sleep(1)
s.close()
`;
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', script, JSON.stringify(payload)], { stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`slow client failed: ${err}`))));
  });
}

/** The resident set size of a process, in bytes (Linux). */
export async function rssBytes(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb[1]) * 1024;
}
