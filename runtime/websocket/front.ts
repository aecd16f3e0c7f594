// WebSocket upgrades at a replica's front (docs/websockets.md). The upgrade request goes to the
// worker with the fewest open sockets as an open event; the handshake completes only when the
// handler accepts (as with Starlette: a handler that closes or ends first refuses the upgrade
// with 403, one that raises with 500). Then messages flow both ways until either side closes.
//
// - Flow control: the front sends a worker only as many client messages as it granted (credit
//   from accept) and pauses reading from the client meanwhile, so a flood waits in TCP buffers.
// - Sends the client does not read: past MAX_UNSENT_BYTES buffered, the socket is closed 1008.
// - Each open socket counts as in flight (autoscaling); at most maxSockets at once (503 beyond).
// - drain(): no new upgrades (503); open sockets get the grace period, then close with 1001.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import client from 'prom-client';
import type { KeyRing } from '../../operator/auth/keys.ts';
import { refusalHeaders } from '../../operator/auth/keys.ts';
import { withoutAuthorization, type AuthMetrics } from '../../operator/auth/gate.ts';
import type { JsonLogger } from '../../operator/util/log.ts';
import type { PredictorWorker } from '../workers/types.ts';
import type { SocketPeer, WorkerSockets } from './types.ts';

/** What the front buffers for a client that does not read before it gives up on it. */
export const MAX_UNSENT_BYTES = 16 * 1024 * 1024;

export interface SocketFrontOptions {
  api: string;
  /** The live workers (the dispatcher's). */
  workers(): readonly PredictorWorker[];
  /** Open sockets allowed at once (max_replica_concurrency). */
  maxSockets: number;
  /** Largest client message (the request body limit). */
  maxPayload: number;
  /** A handler that has not accepted (or refused) this long after the upgrade request: 504. */
  acceptTimeoutMs: number;
  logger: JsonLogger;
  registry: client.Registry;
  auth?: { keys: KeyRing; metrics: AuthMetrics };
}

/** One socket from the upgrade request until it closes. */
class Session implements SocketPeer {
  ws: WebSocket | undefined;
  credit = 0;
  /** Client messages read while out of credit (at most what ws parsed before pause took effect). */
  readonly backlog: [Buffer, boolean][] = [];
  ended = false;
  /** Until the handler accepts or refuses (then cleared): 504 at acceptTimeoutMs. */
  acceptTimer: NodeJS.Timeout | undefined;

  readonly id: number;
  readonly worker: WorkerSockets;
  readonly front: SocketFront;
  readonly req: http.IncomingMessage;
  readonly socket: Duplex;
  readonly head: Buffer;

  constructor(
    id: number,
    worker: WorkerSockets,
    front: SocketFront,
    req: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ) {
    this.id = id;
    this.worker = worker;
    this.front = front;
    this.req = req;
    this.socket = socket;
    this.head = head;
  }

  accept(credit: number, subprotocol: string): void {
    this.credit += credit;
    if (this.ws === undefined) return this.front.complete(this, subprotocol);
    this.flush();
  }

  send(data: Buffer, binary: boolean): void {
    const ws = this.ws;
    if (ws === undefined || ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > MAX_UNSENT_BYTES) {
      this.front.giveUp(this, 1008, 'client is not reading its messages');
      return;
    }
    ws.send(data, { binary });
  }

  close(code: number, reason: string): void {
    this.front.closeBy(this, code, reason);
  }

  /** A client message: to the worker within credit, otherwise held while reading is paused. */
  received(data: Buffer, binary: boolean): void {
    if (this.credit > 0 && this.backlog.length === 0) {
      this.credit--;
      this.worker.message(this.id, data, binary);
    } else {
      this.backlog.push([data, binary]);
    }
    if (this.credit === 0) this.ws?.pause();
  }

  flush(): void {
    while (this.credit > 0 && this.backlog.length > 0) {
      const [data, binary] = this.backlog.shift()!;
      this.credit--;
      this.worker.message(this.id, data, binary);
    }
    if (this.credit > 0) this.ws?.resume();
  }
}

export class SocketFront {
  private readonly options: SocketFrontOptions;
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<Session>();
  private nextId = 0;
  private draining = false;
  private idle: (() => void) | undefined;

  constructor(options: SocketFrontOptions) {
    this.options = options;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayload,
      perMessageDeflate: false,
      clientTracking: false,
    });
    const sessions = this.sessions;
    new client.Gauge({
      name: 'cortex_open_websockets',
      help: 'WebSocket connections open (or being accepted); each also counts in cortex_in_flight_requests.',
      labelNames: ['api'],
      registers: [options.registry],
      collect() {
        this.set({ api: options.api }, sessions.size);
      },
    });
  }

  /** Open sockets, including those waiting for the handler to accept. */
  get count(): number {
    return this.sessions.size;
  }

  /** Node's 'upgrade' event. */
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {}); // a reset connection: 'close' below handles it
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') {
      return refuse(socket, 400, `cannot upgrade to ${req.headers.upgrade ?? 'nothing'}; only websocket`);
    }
    if (path !== '/' && path !== '/predict') {
      return refuse(socket, 404, `no route ${path}; WebSockets connect to / or /predict`);
    }
    if (this.draining) return refuse(socket, 503, 'this replica is shutting down; retry');
    let raw = req.rawHeaders;
    const auth = this.options.auth;
    if (auth !== undefined) {
      const verdict = auth.keys.check(req.headers.authorization);
      auth.metrics.count(this.options.api, verdict);
      if (!verdict.ok) return refuse(socket, verdict.status, verdict.error, refusalHeaders(verdict));
      raw = withoutAuthorization(raw);
    }
    const workers = this.options.workers().filter((w) => w.accepting);
    const capable = workers.filter((w) => w.sockets !== undefined);
    if (workers.length > 0 && capable.length === 0) {
      return refuse(socket, 404, `the predictor of ${this.options.api} has no websocket method (docs/websockets.md)`);
    }
    if (capable.length === 0) return refuse(socket, 503, 'no worker is ready; retry');
    if (this.sessions.size >= this.options.maxSockets) {
      return refuse(socket, 503, 'too many WebSockets open on this replica (max_replica_concurrency); retry', {
        'Retry-After': '1',
      });
    }
    let worker = capable[0].sockets!;
    for (const w of capable) if (w.sockets!.count < worker.count) worker = w.sockets!;
    const session = new Session(++this.nextId >>> 0, worker, this, req, socket, head);
    this.sessions.add(session);
    socket.once('close', () => {
      clearTimeout(session.acceptTimer);
      if (session.ws === undefined) this.ended(session, 1006, 'the client left before the socket was accepted');
    });
    session.acceptTimer = setTimeout(() => {
      if (session.ws !== undefined || session.ended) return;
      this.ended(session, 1006, 'not accepted in time');
      refuse(socket, 504, `the websocket handler did not accept within ${this.options.acceptTimeoutMs} ms`);
    }, this.options.acceptTimeoutMs);
    const clientRequestId = req.headers['x-request-id'];
    worker.open(
      {
        id: session.id,
        path,
        query: q < 0 ? '' : url.slice(q + 1),
        rawHeaders: raw,
        clientRequestId: typeof clientRequestId === 'string' ? clientRequestId : undefined,
      },
      session,
    );
  }

  /** The handler accepted: the handshake completes. */
  complete(session: Session, subprotocol: string): void {
    if (session.ended) return;
    clearTimeout(session.acceptTimer);
    const { req, socket, head } = session;
    const wss = this.wss;
    const chosen = subprotocol;
    const protocols = wss.options;
    protocols.handleProtocols = () => (chosen === '' ? false : chosen); // ws picks none by itself
    wss.handleUpgrade(req, socket, head, (ws) => {
      session.ws = ws;
      if (session.ended) return void ws.close(1001, 'server shutting down');
      ws.on('message', (data: Buffer, binary) => session.received(data, binary));
      ws.on('close', (code, reason) => this.ended(session, code, reason.toString()));
      ws.on('error', () => {}); // a protocol error or a reset: 'close' follows with its code
      session.flush();
    });
    protocols.handleProtocols = undefined;
  }

  /** The handler closed the socket (or ended, or its worker exited). */
  closeBy(session: Session, code: number, reason: string): void {
    if (session.ended) return;
    session.ended = true;
    this.forget(session);
    if (session.ws === undefined) {
      const status = code === 1011 ? 500 : 403;
      return refuse(session.socket, status, status === 500 ? 'the websocket handler failed' : 'websocket refused');
    }
    session.ws.close(code, reason);
  }

  /** The client left (or drain closed it): the handler hears of it as a disconnect. */
  private ended(session: Session, code: number, reason: string): void {
    if (session.ended) return;
    session.ended = true;
    this.forget(session);
    session.worker.closed(session.id, code, reason);
  }

  private forget(session: Session): void {
    clearTimeout(session.acceptTimer);
    this.sessions.delete(session);
    if (this.sessions.size === 0) this.idle?.();
  }

  /** The front ends an open socket: the client gets `code`, the handler a disconnect with it. */
  giveUp(session: Session, code: number, reason: string): void {
    const ws = session.ws;
    this.ended(session, code, reason);
    ws?.close(code, reason);
  }

  /** No new sockets; open ones get up to graceMs, then close with 1001 (going away). */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    if (this.sessions.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const closing: Promise<void>[] = [];
    const open: WebSocket[] = [];
    for (const session of [...this.sessions]) {
      const ws = session.ws;
      if (ws === undefined) {
        this.ended(session, 1001, 'server shutting down');
        refuse(session.socket, 503, 'this replica is shutting down; retry');
        continue;
      }
      open.push(ws);
      closing.push(new Promise((resolve) => ws.once('close', () => resolve())));
      this.giveUp(session, 1001, 'server shutting down');
    }
    // a client that does not answer the close frame within a second: its connection is cut
    await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 1000))]);
    for (const ws of open) ws.terminate();
  }
}

/** Refuses an upgrade with a plain HTTP answer (the handshake never happened). */
function refuse(socket: Duplex, status: number, error: string, headers: Record<string, string> = {}): void {
  if (!socket.writable) return void socket.destroy();
  const body = JSON.stringify({ error });
  let extra = '';
  for (const [name, value] of Object.entries(headers)) extra += `${name}: ${value}\r\n`;
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\n${extra}` +
      `Connection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
