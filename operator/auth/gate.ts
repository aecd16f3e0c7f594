// The check in front of a predictor (networking.auth: api_key), shared by the runtime's front,
// the local gateway and the activator: the Authorization header against a KeyRing, a counter by
// key name and result, and the refusal written as JSON. Only the key's name (its id) is ever
// logged or used as a label; a refused request's key is not even named (it may be a typo of a
// real key, or someone else's secret).
import type http from 'node:http';
import client from 'prom-client';
import type { KeyRing, Verdict } from './keys.ts';
import { refusalHeaders } from './keys.ts';

export type AuthResult = 'allowed' | 'rate_limited' | 'missing' | 'invalid';

export interface AuthGateOptions {
  /** Where the counter is registered (none: a counter nobody scrapes, for tests). */
  registry?: client.Registry;
  /** Metric name; each component its own (the operator's registry holds several). */
  metricName?: string;
}

/** One counter per process: cortex_api_key_requests_total{api, api_key, result}. */
export class AuthMetrics {
  private readonly counter: client.Counter<'api' | 'api_key' | 'result'>;

  constructor(options: AuthGateOptions = {}) {
    this.counter = new client.Counter({
      name: options.metricName ?? 'cortex_api_key_requests_total',
      help:
        'Requests checked for an API key, by API, key name (empty when no valid key was sent) and result: ' +
        'allowed, rate_limited (429), missing or invalid (401).',
      labelNames: ['api', 'api_key', 'result'],
      registers: options.registry ? [options.registry] : [],
    });
  }

  count(api: string, verdict: Verdict): void {
    const key = verdict.ok || verdict.status === 429 ? verdict.key : '';
    const result: AuthResult = verdict.ok ? 'allowed' : verdict.status === 429 ? 'rate_limited' : verdict.reason;
    this.counter.inc({ api, api_key: key, result });
  }
}

/** Checks `req` against `ring` (and its rate limit unless `limit` is false); a refusal is answered here. */
export function admit(
  ring: KeyRing,
  api: string,
  metrics: AuthMetrics,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  limit = true,
): Verdict {
  const verdict = ring.check(req.headers.authorization, limit);
  metrics.count(api, verdict);
  if (!verdict.ok) refuse(req, res, verdict);
  return verdict;
}

/** Answers a refused request; its body is drained (never read) so the connection can be reused. */
export function refuse(req: http.IncomingMessage, res: http.ServerResponse, verdict: Exclude<Verdict, { ok: true }>) {
  const body = JSON.stringify({ error: verdict.error });
  res.writeHead(verdict.status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    ...refusalHeaders(verdict),
  });
  res.end(body);
  req.resume();
}

/** Request headers without Authorization: what goes on to a predictor once the key was checked. */
export function withoutAuthorization(rawHeaders: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() !== 'authorization') out.push(rawHeaders[i], rawHeaders[i + 1]);
  }
  return out;
}
