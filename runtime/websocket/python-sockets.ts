// The WorkerSockets of a Python worker: the front's socket events as WS_OPEN / WS_MESSAGE /
// WS_CLOSED frames to runtime/python/cortex_ws.py, and its WS_SEND / WS_CLOSE / WS_ACCEPT frames
// back to the socket's peer (runtime/PROTOCOL.md, "WebSocket frames").
import type { SocketPeer, SocketRequest, WorkerSockets } from './types.ts';

/** Frame types (runtime/workers/frames.ts has the rest). */
export const WsToWorker = { Open: 5, Message: 6, Closed: 7 } as const;
export const WsFromWorker = { Send: 8, Close: 9, Accept: 10 } as const;

export class PythonSockets implements WorkerSockets {
  readonly #write: (chunk: Buffer) => void;
  readonly #wantHeaders: boolean;
  readonly #peers = new Map<number, SocketPeer>();

  /** `write` queues bytes for the worker's fd 3; `wantHeaders`: send the request's headers too. */
  constructor(write: (chunk: Buffer) => void, wantHeaders = true) {
    this.#write = write;
    this.#wantHeaders = wantHeaders;
  }

  get count(): number {
    return this.#peers.size;
  }

  open(request: SocketRequest, peer: SocketPeer): void {
    const id = request.id >>> 0;
    this.#peers.set(id, peer);
    const raw = request.rawHeaders;
    const meta: { path: string; q?: string; h?: [string, string][]; rid?: string } = { path: request.path };
    if (request.query !== '') meta.q = request.query;
    if (this.#wantHeaders) {
      meta.h = [];
      for (let i = 0; i + 1 < raw.length; i += 2) meta.h.push([raw[i], raw[i + 1]]);
    }
    if (request.clientRequestId !== undefined) meta.rid = request.clientRequestId;
    const json = Buffer.from(JSON.stringify(meta));
    this.#write(Buffer.concat([head(WsToWorker.Open, id, json.length), json]));
  }

  message(id: number, data: Buffer, binary: boolean): void {
    if (!this.#peers.has(id >>> 0)) return;
    const h = head(WsToWorker.Message, id >>> 0, 1 + data.length, 1);
    h[9] = binary ? 1 : 0;
    this.#write(h);
    if (data.length > 0) this.#write(data);
  }

  closed(id: number, code: number, reason: string): void {
    if (!this.#peers.delete(id >>> 0)) return;
    const why = Buffer.from(reason);
    const h = head(WsToWorker.Closed, id >>> 0, 2 + why.length, 2);
    h.writeUInt16LE(code, 9);
    this.#write(Buffer.concat([h, why]));
  }

  /** A WS_* frame from the worker (buf[start, end) is what follows the type byte). */
  onFrame(type: number, buf: Buffer, start: number, end: number): void {
    const id = buf.readUInt32LE(start);
    const peer = this.#peers.get(id);
    if (peer === undefined) return; // the client left meanwhile
    if (type === WsFromWorker.Send) {
      peer.send(Buffer.from(buf.subarray(start + 5, end)), buf[start + 4] === 1);
    } else if (type === WsFromWorker.Accept) {
      peer.accept(buf.readUInt32LE(start + 4), buf.toString('utf8', start + 8, end));
    } else {
      this.#peers.delete(id);
      peer.close(buf.readUInt16LE(start + 4), buf.toString('utf8', start + 6, end));
    }
  }

  /** The worker is gone: every socket it held closes with 1011. */
  exited(): void {
    const peers = [...this.#peers.values()];
    this.#peers.clear();
    for (const peer of peers) peer.close(1011, 'worker exited');
  }
}

/** `u32 length, u8 type, u32 id` plus `extra` bytes of fixed fields to fill; `rest` more follow. */
function head(type: number, id: number, rest: number, extra = 0): Buffer {
  const h = Buffer.allocUnsafe(9 + extra);
  h.writeUInt32LE(5 + rest, 0);
  h[4] = type;
  h.writeUInt32LE(id, 5);
  return h;
}
