// The WorkerSockets of a TypeScript worker thread: the front's socket events as plain-object
// messages to the thread (typescript-thread-sockets.ts has the layouts), and the thread's
// accept / send / close back to each socket's peer.
import type { FromThread, ToThread } from './typescript-thread-sockets.ts';
import type { SocketPeer, SocketRequest, WorkerSockets } from './types.ts';

export class ThreadSockets implements WorkerSockets {
  readonly #post: (m: ToThread) => void;
  readonly #peers = new Map<number, SocketPeer>();

  constructor(post: (m: ToThread) => void) {
    this.#post = post;
  }

  get count(): number {
    return this.#peers.size;
  }

  open(request: SocketRequest, peer: SocketPeer): void {
    this.#peers.set(request.id, peer);
    const raw = request.rawHeaders;
    const headers: [string, string][] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) headers.push([raw[i], raw[i + 1]]);
    this.#post({ type: 'ws', op: 'open', id: request.id, path: request.path, query: request.query, headers });
  }

  message(id: number, data: Buffer, binary: boolean): void {
    if (this.#peers.has(id)) this.#post({ type: 'ws', op: 'message', id, data: binary ? data : data.toString('utf8') });
  }

  closed(id: number, code: number, reason: string): void {
    if (this.#peers.delete(id)) this.#post({ type: 'ws', op: 'closed', id, code, reason });
  }

  /** A message from the thread with type 'ws'. */
  fromThread(m: FromThread): void {
    const peer = this.#peers.get(m.id);
    if (peer === undefined) return; // the client left meanwhile
    if (m.op === 'accept') peer.accept(m.credit, m.protocol);
    else if (m.op === 'send') {
      const d = m.data;
      if (typeof d === 'string') peer.send(Buffer.from(d), false);
      else peer.send(Buffer.from(d.buffer, d.byteOffset, d.byteLength), true);
    } else {
      this.#peers.delete(m.id);
      peer.close(m.code, m.reason);
    }
  }

  /** The thread is gone: every socket it held closes with 1011. */
  exited(): void {
    const peers = [...this.#peers.values()];
    this.#peers.clear();
    for (const peer of peers) peer.close(1011, 'worker exited');
  }
}
