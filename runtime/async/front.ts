// The front of an AsyncAPI (Cortex's async gateway): POST <endpoint> queues the request and
// answers {"id"} at once; GET <endpoint>/<id> answers its record (records.ts). The local gateway
// and `cortex async-gateway` (a cluster's) route an AsyncAPI's endpoint here.
import type http from 'node:http';
import type { Broker } from '../queue/types.ts';
import { newRequestId, record, type AsyncMessage, type AsyncNames } from './records.ts';

export interface AsyncFrontOptions {
  broker: Broker;
  names: AsyncNames;
  resultTtlMs: number;
  maxBodyBytes: number;
  /** How long a POST waits for the queue (Redis down: 503 after this). */
  queueTimeoutMs?: number;
}

/** Serves one request; `rest` is the path after the endpoint ('' or '/<id>'), `query` without '?'. */
export async function serveAsync(
  options: AsyncFrontOptions,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  rest: string,
  query: string,
): Promise<void> {
  const { broker, names } = options;
  const timeoutMs = options.queueTimeoutMs ?? 10_000;
  try {
    if (req.method === 'POST' && (rest === '' || rest === '/')) {
      const body = await readBody(req, options.maxBodyBytes);
      if (body === undefined)
        return answer(res, 413, { error: `request body larger than ${options.maxBodyBytes} bytes` });
      const id = newRequestId();
      const message: AsyncMessage = { id, body: body.toString('base64'), query };
      const contentType = req.headers['content-type'];
      if (contentType !== undefined) message.contentType = contentType;
      const effects = { put: [{ key: names.record(id), value: record(id, 'in_queue'), ttlMs: options.resultTtlMs }] };
      await within(timeoutMs, broker.enqueue(names.stream, names.group, JSON.stringify(message), effects));
      return answer(res, 200, { id });
    }
    const id = /^\/([A-Za-z0-9-]{1,64})$/.exec(rest)?.[1];
    if (req.method === 'GET' && id !== undefined) {
      const stored = await within(timeoutMs, broker.get(names.record(id)));
      if (stored === undefined) {
        return answer(res, 404, {
          error: `no request ${id}: never queued here, or its result expired (async.result_ttl)`,
        });
      }
      return answer(res, 200, JSON.parse(stored) as unknown);
    }
    res.setHeader('Allow', rest === '' || rest === '/' ? 'POST' : 'GET');
    return answer(res, 405, {
      error: 'an AsyncAPI takes POST <endpoint> (queue a request) and GET <endpoint>/<id> (its status and result)',
    });
  } catch (error) {
    if (res.headersSent) return;
    answer(res, 503, { error: `the request queue did not answer (${String(error)}); retry` });
  }
}

function answer(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        resolve(undefined);
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
