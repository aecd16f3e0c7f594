// A `ws` client for tests: connect, await the next message, await the close.
import { WebSocket, type ClientOptions } from 'ws';

export interface Client {
  ws: WebSocket;
  /** The next message not taken yet (text as string, binary as Buffer). */
  next(): Promise<string | Buffer>;
  closed: Promise<{ code: number; reason: string }>;
}

/** Resolves once open; rejects with the HTTP status when the upgrade was refused ("unexpected 403"). */
export function connect(url: string, options: ClientOptions = {}, protocols?: string[]): Promise<Client> {
  const ws = new WebSocket(url, protocols, options);
  const inbox: (string | Buffer)[] = [];
  const waiting: ((m: string | Buffer) => void)[] = [];
  ws.on('message', (data: Buffer, binary) => {
    const m = binary ? data : data.toString('utf8');
    const w = waiting.shift();
    if (w) w(m);
    else inbox.push(m);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => reject(Object.assign(new Error(`unexpected ${res.statusCode}: ${body}`), { res, body })));
    });
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        ws,
        closed,
        next: () => {
          const m = inbox.shift();
          return m !== undefined ? Promise.resolve(m) : new Promise((r) => waiting.push(r));
        },
      }),
    );
  });
}

/** The status and JSON error of a refused upgrade. */
export async function refused(
  url: string,
  options: ClientOptions = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  try {
    const c = await connect(url, options);
    c.ws.close();
  } catch (error) {
    const e = error as { res?: { statusCode: number; headers: Record<string, unknown> }; body?: string };
    if (e.res !== undefined) return { status: e.res.statusCode, body: e.body ?? '', headers: e.res.headers };
    throw error;
  }
  throw new Error(`${url}: the upgrade was accepted`);
}
