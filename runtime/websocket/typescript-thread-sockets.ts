// The thread side of a TypeScript predictor's `websocket(ws)` (docs/websockets.md): each socket
// the front opens becomes a WebSocketConnection and one call of the method, running on the
// thread's event loop beside predict (an async handler never holds a predict slot).
//
// Messages between front and thread are plain objects (websocket/typescript-sockets.ts has the
// front's side): front → thread {type: 'ws', op: 'open' | 'message' | 'closed', ...};
// thread → front {type: 'ws', op: 'accept' | 'send' | 'close', ...}. Flow control as for Python:
// a socket holds at most QUEUE client messages, and credit goes back as the handler takes them.
import type { MessagePort } from 'node:worker_threads';
import { writeLog } from '../workers/typescript-thread-console.ts';
import { stackText } from '../workers/typescript-thread-errors.ts';

export const QUEUE = 64;
const GRANT = QUEUE / 2;

export type ToThread =
  | { type: 'ws'; op: 'open'; id: number; path: string; query: string; headers: [string, string][] }
  | { type: 'ws'; op: 'message'; id: number; data: string | Uint8Array }
  | { type: 'ws'; op: 'closed'; id: number; code: number; reason: string };
export type FromThread =
  | { type: 'ws'; op: 'accept'; id: number; credit: number; protocol: string }
  | { type: 'ws'; op: 'send'; id: number; data: string | Uint8Array }
  | { type: 'ws'; op: 'close'; id: number; code: number; reason: string };

/** Thrown by receive() once the client left; `code` is its close code (1001 when the replica drains). */
export class WebSocketDisconnect extends Error {
  readonly code: number;
  readonly reason: string;
  constructor(code: number, reason: string) {
    super(`the client closed the WebSocket (${code}${reason ? `: ${reason}` : ''})`);
    this.name = 'WebSocketDisconnect';
    this.code = code;
    this.reason = reason;
  }
}

type Message = string | Uint8Array;

/** What `websocket(ws)` gets. Text messages are strings, binary ones Uint8Arrays. */
export class WebSocketConnection implements AsyncIterable<Message> {
  readonly path: string;
  readonly queryParams: Record<string, string>;
  /** Lower-cased names; the first value of a repeated header. */
  readonly headers: Record<string, string>;
  /** The client's close, once it left. */
  closed: { code: number; reason: string } | undefined;
  readonly #id: number;
  readonly #post: (m: FromThread) => void;
  readonly #inbox: Message[] = [];
  #waiting: { resolve: (m: Message) => void; reject: (e: Error) => void } | undefined;
  #accepted = false;
  #ended = false;
  #consumed = 0;

  constructor(open: Extract<ToThread, { op: 'open' }>, post: (m: FromThread) => void) {
    this.#id = open.id;
    this.#post = post;
    this.path = open.path;
    this.queryParams = Object.fromEntries(new URLSearchParams(open.query));
    this.headers = {};
    for (const [name, value] of open.headers) this.headers[name.toLowerCase()] ??= value;
  }

  /** Completes the handshake (with `protocol`, one the client offered). Nothing is received before. */
  accept(options: { protocol?: string } = {}): Promise<void> {
    if (this.#accepted || this.#ended) throw new Error('websocket: accept() called twice or after close()');
    this.#accepted = true;
    this.#post({ type: 'ws', op: 'accept', id: this.#id, credit: QUEUE, protocol: options.protocol ?? '' });
    return Promise.resolve();
  }

  /** The next message; rejects with WebSocketDisconnect once the client left. */
  receive(): Promise<Message> {
    if (!this.#accepted) return Promise.reject(new Error('websocket: receive() before accept()'));
    const next = this.#inbox.shift();
    if (next !== undefined) return Promise.resolve(this.#took(next));
    if (this.closed !== undefined) return Promise.reject(new WebSocketDisconnect(this.closed.code, this.closed.reason));
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve: (m) => resolve(this.#took(m)), reject };
    });
  }

  /** Every message until the client leaves (then the loop just ends; `closed` says how). */
  async *[Symbol.asyncIterator](): AsyncIterator<Message> {
    for (;;) {
      try {
        yield await this.receive();
      } catch (error) {
        if (error instanceof WebSocketDisconnect) return;
        throw error;
      }
    }
  }

  /** A string goes as a text message, bytes as a binary one. */
  send(data: string | Uint8Array | ArrayBuffer): void {
    if (this.closed !== undefined) throw new WebSocketDisconnect(this.closed.code, this.closed.reason);
    if (!this.#accepted || this.#ended) throw new Error('websocket: send() before accept() or after close()');
    const body = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    this.#post({ type: 'ws', op: 'send', id: this.#id, data: body });
  }

  sendJson(value: unknown): void {
    this.send(JSON.stringify(value));
  }

  /** Closes the socket (before accept(): the upgrade is refused with 403). */
  close(code = 1000, reason = ''): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.closed !== undefined && this.#accepted) return; // the client is gone already
    this.#post({ type: 'ws', op: 'close', id: this.#id, code, reason: reason.slice(0, 123) });
  }

  /** From the front. */
  deliver(m: Extract<ToThread, { op: 'message' | 'closed' }>): void {
    if (m.op === 'closed') {
      this.closed = { code: m.code, reason: m.reason };
      this.#waiting?.reject(new WebSocketDisconnect(m.code, m.reason));
      this.#waiting = undefined;
      return;
    }
    if (this.#waiting !== undefined) {
      const w = this.#waiting;
      this.#waiting = undefined;
      w.resolve(m.data);
    } else {
      this.#inbox.push(m.data);
    }
  }

  #took(m: Message): Message {
    if (++this.#consumed >= GRANT && this.closed === undefined && !this.#ended) {
      this.#post({ type: 'ws', op: 'accept', id: this.#id, credit: this.#consumed, protocol: '' });
      this.#consumed = 0;
    }
    return m;
  }
}

/** Serves the front's socket messages with `handler` (the predictor's bound websocket method). */
export function serveSockets(port: MessagePort, handler: (ws: WebSocketConnection) => unknown): (m: ToThread) => void {
  const open = new Map<number, WebSocketConnection>();
  const post = (m: FromThread) => port.postMessage(m);
  return (m) => {
    if (m.op !== 'open') return open.get(m.id)?.deliver(m);
    const ws = new WebSocketConnection(m, post);
    open.set(m.id, ws);
    // as uvicorn: a return without close() closes with 1000, an exception with 1011 (logged)
    Promise.resolve()
      .then(() => handler(ws))
      .then(
        () => ws.close(1000),
        (error: unknown) => {
          if (error instanceof WebSocketDisconnect && ws.closed !== undefined) return ws.close(1000);
          writeLog('error', `websocket: ${stackText(error)}`, null);
          ws.close(1011, 'internal error');
        },
      )
      .finally(() => open.delete(m.id));
  };
}
