// A TrafficSplitter on the local gateway: each request goes to one API picked by weight, and a
// copy goes to the shadow API, fire-and-forget. The copy is sent after the primary's body was
// read and never awaited: a slow, failing or dead shadow cannot delay or fail the client. Copies
// in flight are bounded (MAX_SHADOW_IN_FLIGHT): past it a copy is dropped and counted, so a
// shadow that hangs cannot pile up sockets and bodies in memory. A copy's answer is read and
// dropped as it arrives (never kept), and a copy still open after SHADOW_TIMEOUT_MS is cut, even
// one whose shadow keeps streaming: an endless stream cannot hold a place in the bound for ever.
import http from 'node:http';
import type { Backend } from './gateway.ts';

/** The split of a splitter's endpoint, as the route table gives it to the gateway. */
export interface Split {
  /** The APIs that answer, with weights summing to 100 (a weight may be 0). */
  backends: { api: string; weight: number }[];
  /** The API that gets a copy of every request. */
  shadow?: string;
}

/** The API a request goes to: `random` in [0, 1) against the cumulative weights. */
export function pickWeighted(split: Split, random = Math.random()): string {
  const total = split.backends.reduce((s, b) => s + b.weight, 0);
  let at = random * total;
  for (const b of split.backends) {
    if (at < b.weight) return b.api;
    at -= b.weight;
  }
  // rounding at the very top: the last API with a weight
  return [...split.backends].reverse().find((b) => b.weight > 0)?.api ?? split.backends[0].api;
}

export const MAX_SHADOW_IN_FLIGHT = 64;
/** A shadow copy whose answer has not ended by then (silent, or still streaming) is cut. */
export const SHADOW_TIMEOUT_MS = 30_000;

/** Fire-and-forget copies to shadow APIs, bounded. */
export class ShadowSender {
  inFlight = 0;
  sent = 0;
  /** Copies not sent: the bound was reached, or the shadow had no ready replica. */
  dropped = 0;
  failed = 0;
  private readonly agent = new http.Agent({ keepAlive: true, timeout: 3000 });
  private readonly max: number;
  private readonly timeoutMs: number;

  constructor(max = MAX_SHADOW_IN_FLIGHT, timeoutMs = SHADOW_TIMEOUT_MS) {
    this.max = max;
    this.timeoutMs = timeoutMs;
  }

  /** Sends the copy to `backend` (undefined: the shadow has no ready replica) and returns at once. */
  send(
    backend: Backend | undefined,
    method: string,
    path: string,
    headers: http.OutgoingHttpHeaders,
    body: Buffer,
  ): void {
    if (backend === undefined || this.inFlight >= this.max) {
      this.dropped++;
      return;
    }
    this.inFlight++;
    let done = false;
    // the whole exchange, not the socket's idle time: a stream that trickles is never idle
    const deadline = setTimeout(() => req.destroy(new Error('shadow timed out')), this.timeoutMs);
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      this.inFlight--;
      if (ok) this.sent++;
      else this.failed++;
    };
    const req = http.request(
      { host: '127.0.0.1', port: backend.port, method, path, headers, agent: this.agent },
      (answer) => {
        answer.resume(); // the answer is nobody's: read and dropped
        answer.on('end', () => finish(true));
        answer.on('error', () => finish(false));
        answer.on('close', () => finish(answer.complete));
      },
    );
    req.on('error', () => finish(false));
    req.end(body);
  }

  close(): void {
    this.agent.destroy();
  }
}
