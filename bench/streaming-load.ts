// The streaming bench's load: `connections` clients, each POSTing the same body and reading the
// streamed answer to its end, again and again for `durationS`. wrk and autocannon time whole
// answers; a stream's figure is its time to first byte (from sending the request to the first
// chunk of the body) and the chunks that arrive, so this client counts them itself (node:http,
// keep-alive, one connection per client). The chunks of an answer are its items: JSON lines,
// or Server-Sent Events, counted by their separators whatever the TCP segments.
import http from 'node:http';

export type StreamMode = 'ndjson' | 'sse';

export interface StreamLoadOptions {
  url: string;
  body: string;
  mode: StreamMode;
  connections: number;
  durationS: number;
  /** Items a whole answer has (fewer: the stream counts as incomplete). */
  expectedChunks: number;
}

export interface StreamLoadResult {
  /** Streams read to their end. */
  streams: number;
  /** Items received, over every stream. */
  chunks: number;
  durationS: number;
  streamsPerS: number;
  ttfbP50Ms: number;
  ttfbP99Ms: number;
  /** Answers that were not 200, or that ended with fewer items than expected. */
  failed: number;
  /** Connection errors. */
  errors: number;
}

const SEPARATOR: Record<StreamMode, string> = { ndjson: '\n', sse: '\n\n' };
const ACCEPT: Record<StreamMode, string> = { ndjson: '*/*', sse: 'text/event-stream' };

/** The p-th percentile (0-100) of sorted values, nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Items in a stream so far: separators seen, with one split across two chunks counted once. */
export class ItemCounter {
  items = 0;
  private tail = '';
  private readonly separator: string;
  constructor(mode: StreamMode) {
    this.separator = SEPARATOR[mode];
  }
  push(text: string): void {
    // SSE lines may end in CRLF (sse-starlette's do): counted as LF
    const s = this.tail + (this.separator === '\n\n' ? text.replaceAll('\r', '') : text);
    let at = s.indexOf(this.separator);
    let last = -1;
    while (at >= 0) {
      this.items++;
      last = at + this.separator.length;
      at = s.indexOf(this.separator, last);
    }
    // keep what could start a separator that the next chunk completes
    const keep = this.separator.length - 1;
    this.tail = keep === 0 ? '' : (last < 0 ? s : s.slice(last)).slice(-keep);
  }
}

/** One streamed answer: its status, TTFB and items. */
function oneStream(
  agent: http.Agent,
  o: StreamLoadOptions,
): Promise<{ status: number; ttfbMs: number; items: number; text?: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      o.url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(o.body),
          accept: ACCEPT[o.mode],
        },
      },
      (res) => {
        let ttfbMs = NaN;
        const counter = new ItemCounter(o.mode);
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (Number.isNaN(ttfbMs)) ttfbMs = performance.now() - started;
          counter.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ttfbMs, items: counter.items }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

export async function runStreamLoad(o: StreamLoadOptions): Promise<StreamLoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
  const ttfbs: number[] = [];
  let [streams, chunks, failed, errors] = [0, 0, 0, 0];
  const started = performance.now();
  const until = started + o.durationS * 1000;
  const client = async () => {
    while (performance.now() < until) {
      try {
        const r = await oneStream(agent, o);
        chunks += r.items;
        if (r.status !== 200 || r.items < o.expectedChunks) failed++;
        else {
          streams++;
          ttfbs.push(r.ttfbMs);
        }
      } catch {
        errors++;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  };
  await Promise.all(Array.from({ length: o.connections }, client));
  const durationS = (performance.now() - started) / 1000;
  agent.destroy();
  ttfbs.sort((a, b) => a - b);
  return {
    streams,
    chunks,
    durationS,
    streamsPerS: streams / durationS,
    ttfbP50Ms: percentile(ttfbs, 50),
    ttfbP99Ms: percentile(ttfbs, 99),
    failed,
    errors,
  };
}

/**
 * One stream, checked item by item: 'ok' when it is `expectedChunks` items {"token": i} in order
 * (as JSON lines, or events whose data is that JSON), else what is wrong.
 */
export async function checkStream(
  url: string,
  body: string,
  mode: StreamMode,
  expectedChunks: number,
): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: ACCEPT[mode] },
      body,
      signal: AbortSignal.timeout(10_000),
    });
  } catch {
    return 'no connection';
  }
  const text = (await res.text()).replaceAll('\r', '');
  if (res.status !== 200) return `HTTP ${res.status} ${text.slice(0, 200)}`;
  const items = text.split(SEPARATOR[mode]).filter((s) => s.trim() !== '');
  const values = items.map((item) => (mode === 'sse' ? /^data: ?(.*)$/m.exec(item)?.[1] : item));
  const wanted = Array.from({ length: expectedChunks }, (_, i) => JSON.stringify({ token: i }));
  if (values.length !== expectedChunks) return `${values.length} items, not ${expectedChunks}: ${text.slice(0, 200)}`;
  const wrong = values.findIndex((v, i) => v === undefined || JSON.stringify(JSON.parse(v)) !== wanted[i]);
  return wrong < 0 ? 'ok' : `item ${wrong} is ${items[wrong].slice(0, 100)}, not ${wanted[wrong]}`;
}
