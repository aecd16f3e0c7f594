// Passes one request on to a replica and streams its answer back: method, path and query,
// headers (less the hop-by-hop ones), the body as it arrives, then the replica's status,
// headers and body as they arrive: a streamed answer (a generator predictor's events) passes
// chunk by chunk, a slow client slows the replica (pipeline: backpressure, no buffering here), and
// a client that goes away closes the connection to the replica, which stops its predictor.
//
// The request body is not read until the connection to the replica is open. So when the
// replica cannot be reached at all (refused, unreachable, no answer to the connect within
// connectTimeoutMs) nothing of the request is lost, and the caller may try another replica or
// wait for one: forward() then resolves 'unreachable' and has written nothing.

import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { isWebSocketUpgrade, tunnel } from '../util/upgrade.ts';

/** RFC 9110 §7.6.1: meaningful for one connection only, never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEnd(headers: http.IncomingHttpHeaders): OutgoingHttpHeaders {
  // a Connection header may name more headers that are hop-by-hop for this connection
  const named = new Set(
    String(headers.connection ?? '')
      .toLowerCase()
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined && !HOP_BY_HOP.has(k) && !named.has(k)) out[k] = v;
  }
  return out;
}

export interface ForwardOptions {
  host: string;
  port: number;
  /** Default 3 s. */
  connectTimeoutMs?: number;
}

export type ForwardResult = 'done' | 'unreachable';

/** JSON error answer, as the runtime writes its own ({"error": "..."}). */
export function jsonError(
  res: ServerResponse,
  status: number,
  message: string,
  headers: OutgoingHttpHeaders = {},
): void {
  const body = JSON.stringify({ error: message });
  res
    .writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers })
    .end(body);
}

function forwardedHeaders(req: IncomingMessage): OutgoingHttpHeaders {
  const headers = endToEnd(req.headers);
  const client = req.socket.remoteAddress;
  if (client)
    headers['x-forwarded-for'] = req.headers['x-forwarded-for']
      ? `${String(req.headers['x-forwarded-for'])}, ${client}`
      : client;
  return headers;
}

/** A WebSocket upgrade (res on its socket: operator/util/upgrade.ts): 'done' once joined or refused. */
async function forwardUpgrade(req: IncomingMessage, res: ServerResponse, options: ForwardOptions) {
  const target = { ...options, headers: forwardedHeaders(req) };
  return (await tunnel(req, res, target)) === 'unreachable' ? 'unreachable' : 'done';
}

export function forward(req: IncomingMessage, res: ServerResponse, options: ForwardOptions): Promise<ForwardResult> {
  if (isWebSocketUpgrade(req)) return forwardUpgrade(req, res, options);
  return new Promise((resolve) => {
    const headers = forwardedHeaders(req);
    // one connection per request (agent: false): a kept-alive one the replica has closed would
    // fail after the body was sent, when it can no longer be retried
    const upstream = http.request({
      host: options.host,
      port: options.port,
      method: req.method,
      path: req.url,
      headers,
      agent: false,
    });
    let connected = false;
    let settled = false;
    const settle = (r: ForwardResult) => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };

    upstream.on('socket', (socket) => {
      const open = () => {
        connected = true;
        socket.setTimeout(0);
        pipeline(req, upstream).catch(() => upstream.destroy());
      };
      if (!socket.connecting) return open();
      socket.setTimeout(options.connectTimeoutMs ?? 3000, () => upstream.destroy(new Error('connect timeout')));
      socket.once('connect', open);
    });
    upstream.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
      // a streamed answer's headers go at once, not with a first chunk that may come much later
      if (answer.headers['content-length'] === undefined) res.flushHeaders();
      pipeline(answer, res).then(
        () => settle('done'),
        () => settle('done'),
      );
    });
    upstream.on('error', (error) => {
      if (!connected) return settle('unreachable');
      if (!res.headersSent)
        jsonError(res, 502, `the replica at ${options.host}:${options.port} failed while answering: ${error.message}`);
      else res.destroy(error);
      settle('done');
    });
    // the client went away: stop the replica's work on its behalf
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
      settle('done');
    });
  });
}
