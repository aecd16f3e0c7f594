// Passing an HTTP upgrade (a WebSocket) through a hop we own: the local gateway
// (cli/local/gateway.ts), the activator (operator/activator) and `cortex proxy`'s pod APIs
// (runtime/proxy.ts). The upgrade request goes to the replica as is (less the hop's own headers);
// when the replica switches protocols, its 101 goes back and the two connections are joined byte
// for byte until either ends, so frames, close codes and backpressure (TCP's) pass untouched.
// The caller puts the 'upgrade' event's head back first (socket.unshift), once.
// When the replica answers anything else (a refusal: 401, 403, 503...) that answer is relayed.
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export interface UpgradeTarget {
  host: string;
  port: number;
  /** Path and query the replica gets (default: the request's). */
  path?: string;
  /** Headers the replica gets; the Connection and Upgrade headers are added. */
  headers: OutgoingHttpHeaders;
  /** No connection within this: 'unreachable'. Default 3 s. */
  connectTimeoutMs?: number;
}

/**
 * 'upgraded': joined (onEnd runs when it closes); 'answered': the replica refused and its answer
 * was relayed; 'unreachable': nothing was written, the caller may try elsewhere.
 */
export type UpgradeResult = 'upgraded' | 'answered' | 'unreachable';

/** A ServerResponse on an upgrade's socket, so refusals are written the way a request's are. */
export function responseFor(req: IncomingMessage, socket: Duplex): ServerResponse {
  const res = new http.ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as import('node:net').Socket);
  res.once('finish', () => socket.end());
  return res;
}

/** Whether `req` asks to switch to the WebSocket protocol. */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return String(req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

/** `res`: responseFor(req, socket), which refusals (the caller's or the replica's) are written to. */
export function tunnel(
  req: IncomingMessage,
  res: ServerResponse,
  target: UpgradeTarget,
  onEnd: () => void = () => {},
): Promise<UpgradeResult> {
  const socket = res.socket!;
  return new Promise((resolve) => {
    const upstream = http.request({
      host: target.host,
      port: target.port,
      method: req.method,
      path: target.path ?? req.url,
      headers: { ...target.headers, connection: 'Upgrade', upgrade: req.headers.upgrade ?? 'websocket' },
      agent: false,
    });
    let connected = false;
    upstream.on('socket', (s) => {
      if (!s.connecting) return void (connected = true);
      s.setTimeout(target.connectTimeoutMs ?? 3000, () => upstream.destroy(new Error('connect timeout')));
      s.once('connect', () => {
        connected = true;
        s.setTimeout(0);
      });
    });
    upstream.on('upgrade', (answer, upSocket, upHead) => {
      let head = `HTTP/1.1 101 ${answer.statusMessage ?? 'Switching Protocols'}\r\n`;
      for (let i = 0; i < answer.rawHeaders.length; i += 2)
        head += `${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}\r\n`;
      res.detachSocket(socket);
      socket.write(head + '\r\n');
      if (upHead.length > 0) socket.write(upHead);
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        socket.destroy();
        upSocket.destroy();
        onEnd();
      };
      for (const s of [socket, upSocket]) {
        s.on('error', end);
        s.on('close', end);
      }
      upSocket.pipe(socket);
      socket.pipe(upSocket);
      resolve('upgraded');
    });
    upstream.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.headers);
      answer.pipe(res);
      resolve('answered');
    });
    upstream.on('error', (error) => {
      if (!connected) return resolve('unreachable');
      if (!res.headersSent) {
        const body = JSON.stringify({ error: `the replica failed during the upgrade: ${error.message}` });
        res.writeHead(502, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      }
      resolve('answered');
    });
    socket.once('close', () => {
      if (!connected) upstream.destroy();
    });
    upstream.end();
  });
}
