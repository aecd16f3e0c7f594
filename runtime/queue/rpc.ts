// The in-process broker (memory.ts) served to the other processes of one machine: the local
// environment's supervisor holds the queue when no redis-server is installed, and its replicas
// (separate `cortex serve` processes) reach it at http://127.0.0.1:PORT/ through HttpBroker.
// Each Broker method is POST /<method> with its arguments as a JSON array; loopback only.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Broker, DeadLetter, Effects, QueueDepth, QueueMessage, ReadOptions } from './types.ts';

const METHODS = [
  'enqueue',
  'read',
  'touch',
  'release',
  'ack',
  'depth',
  'deadLetters',
  'deleteStream',
  'put',
  'get',
  'getMany',
  'incr',
  'delete',
] as const satisfies readonly (keyof Broker)[];
type Method = (typeof METHODS)[number];

/** Serves `broker` on a loopback port; resolves with its URL and a close. */
export async function serveBroker(broker: Broker): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const method = req.url?.slice(1) as Method;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: unknown) => {
        const text = JSON.stringify(body ?? null);
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(text);
      };
      if (req.method !== 'POST' || !METHODS.includes(method)) return reply(404, { error: `no method ${req.url}` });
      let args: unknown[];
      try {
        // JSON has no undefined: an argument left out arrives as null and means "not given"
        args = (JSON.parse(Buffer.concat(chunks).toString()) as unknown[]).map((a) => a ?? undefined);
      } catch {
        return reply(400, { error: 'the body must be a JSON array of arguments' });
      }
      const fn = broker[method] as (...a: unknown[]) => Promise<unknown>;
      fn.apply(broker, args).then(
        (value) => reply(200, { value }),
        (error: unknown) => reply(500, { error: String(error) }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A Broker that calls a serveBroker over HTTP. Errors (the server gone) reject; consume() retries. */
export class HttpBroker implements Broker {
  readonly url: string;
  private readonly controller = new AbortController();

  constructor(url: string) {
    this.url = url;
  }

  private async call<T>(method: Method, ...args: unknown[]): Promise<T> {
    const res = await fetch(`${this.url}/${method}`, {
      method: 'POST',
      body: JSON.stringify(args),
      headers: { 'Content-Type': 'application/json' },
      signal: this.controller.signal,
    });
    const body = (await res.json()) as { value?: T; error?: string };
    if (!res.ok) throw new Error(`queue ${method}: ${body.error ?? res.status}`);
    return body.value as T;
  }

  enqueue(stream: string, group: string, body: string, effects?: Effects): Promise<string> {
    return this.call('enqueue', stream, group, body, effects);
  }
  read(stream: string, group: string, consumer: string, options: ReadOptions): Promise<QueueMessage[]> {
    return this.call('read', stream, group, consumer, options);
  }
  touch(stream: string, group: string, consumer: string, id: string): Promise<boolean> {
    return this.call('touch', stream, group, consumer, id);
  }
  release(stream: string, group: string, id: string): Promise<void> {
    return this.call('release', stream, group, id);
  }
  ack(stream: string, group: string, id: string, effects?: Effects): Promise<boolean> {
    return this.call('ack', stream, group, id, effects);
  }
  depth(stream: string, group: string): Promise<QueueDepth> {
    return this.call('depth', stream, group);
  }
  deadLetters(stream: string, count?: number): Promise<DeadLetter[]> {
    return this.call('deadLetters', stream, count);
  }
  deleteStream(stream: string): Promise<void> {
    return this.call('deleteStream', stream);
  }
  put(key: string, value: string, ttlMs?: number): Promise<void> {
    return this.call('put', key, value, ttlMs);
  }
  async get(key: string): Promise<string | undefined> {
    return (await this.call<string | null>('get', key)) ?? undefined;
  }
  async getMany(keys: string[]): Promise<(string | undefined)[]> {
    return (await this.call<(string | null)[]>('getMany', keys)).map((v) => v ?? undefined);
  }
  incr(key: string, by?: number): Promise<number> {
    return this.call('incr', key, by);
  }
  delete(...keys: string[]): Promise<void> {
    return this.call('delete', ...keys);
  }
  close(): Promise<void> {
    this.controller.abort();
    return Promise.resolve();
  }
}
