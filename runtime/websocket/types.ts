// The contract between the front's WebSocket handling (websocket/front.ts) and the workers that
// host a predictor's `websocket` method (Python: websocket/python-sockets.ts over the WS_* frames
// of runtime/PROTOCOL.md; TypeScript: websocket/typescript-sockets.ts). docs/websockets.md.

/** The upgrade request a socket started with, as the handler sees it. */
export interface SocketRequest {
  /** Unique per front; the frame id on the wire (its own numbering, apart from request ids). */
  id: number;
  path: string;
  /** Raw query string without '?', '' when none. */
  query: string;
  /** Node's rawHeaders minus Authorization (the key was checked by the front). */
  rawHeaders: string[];
  /** The client's X-Request-ID, for logs. */
  clientRequestId?: string;
}

/** The front's side of one socket: what the worker calls as the handler acts. */
export interface SocketPeer {
  /**
   * The first call accepts the socket (the handshake completes, `subprotocol` chosen when not '');
   * every call grants `credit`: how many more client messages the worker can take.
   */
  accept(credit: number, subprotocol: string): void;
  send(data: Buffer, binary: boolean): void;
  /** The handler closed the socket, or ended (before accept: the upgrade is refused, 1011 → 500, else 403). */
  close(code: number, reason: string): void;
}

/** A worker's side: present on a worker whose predictor has a `websocket` method. */
export interface WorkerSockets {
  /** Sockets this worker holds now (the front gives a new one to the worker with the fewest). */
  readonly count: number;
  open(request: SocketRequest, peer: SocketPeer): void;
  /** A client message; the front sends one only within the credit the worker granted. */
  message(id: number, data: Buffer, binary: boolean): void;
  /** The client left (its close code; 1006 when the connection dropped) or the replica drains (1001). */
  closed(id: number, code: number, reason: string): void;
}
