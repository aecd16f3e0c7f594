// Binary frames between the front and a Python worker host (runtime/PROTOCOL.md, "Frames").
// Every frame: u32 LE length of what follows, then a u8 type.

/** Front → worker frame types. */
export const ToWorker = { Request: 1, Batch: 2, Cancel: 3, Credit: 4, Shutdown: 9 } as const;
/** Worker → front frame types. */
export const FromWorker = {
  Response: 1,
  Ready: 2,
  InitError: 3,
  Metrics: 4,
  StreamStart: 5,
  StreamChunk: 6,
  StreamEnd: 7,
} as const;

export const EMPTY = Buffer.alloc(0);
/** The whole SHUTDOWN frame. */
export const SHUTDOWN_FRAME = Buffer.from([1, 0, 0, 0, ToWorker.Shutdown]);
/** Largest meta a frame can carry (u16 length). */
export const MAX_META = 0xffff;

/** The 11 bytes before a REQUEST's meta and body. */
export function requestHead(id: number, metaLen: number, bodyLen: number): Buffer {
  const head = Buffer.allocUnsafe(11);
  head.writeUInt32LE(7 + metaLen + bodyLen, 0);
  head[4] = ToWorker.Request;
  head.writeUInt32LE(id, 5);
  head.writeUInt16LE(metaLen, 9);
  return head;
}

/** CANCEL: the client of stream `id` went away; the worker stops its generator. */
export function cancelFrame(id: number): Buffer {
  const frame = Buffer.allocUnsafe(9);
  frame.writeUInt32LE(5, 0);
  frame[4] = ToWorker.Cancel;
  frame.writeUInt32LE(id, 5);
  return frame;
}

/** CREDIT: `n` more bytes of stream `id` left the front (flow control, runtime/PROTOCOL.md). */
export function creditFrame(id: number, n: number): Buffer {
  const frame = Buffer.allocUnsafe(13);
  frame.writeUInt32LE(9, 0);
  frame[4] = ToWorker.Credit;
  frame.writeUInt32LE(id, 5);
  frame.writeUInt32LE(n, 9);
  return frame;
}

/** A BATCH frame as chunks to write in order (metas[i] goes with items[i]). */
export function batchChunks(items: { id: number; body: Buffer }[], metas: Buffer[]): Buffer[] {
  let total = 3;
  for (let i = 0; i < items.length; i++) total += 10 + metas[i].length + items[i].body.length;
  const chunks: Buffer[] = new Array(1 + items.length * 3);
  const head = Buffer.allocUnsafe(7);
  head.writeUInt32LE(total, 0);
  head[4] = ToWorker.Batch;
  head.writeUInt16LE(items.length, 5);
  chunks[0] = head;
  for (let i = 0, c = 1; i < items.length; i++) {
    const itemHead = Buffer.allocUnsafe(10);
    itemHead.writeUInt32LE(items[i].id >>> 0, 0);
    itemHead.writeUInt16LE(metas[i].length, 4);
    itemHead.writeUInt32LE(items[i].body.length, 6);
    chunks[c++] = itemHead;
    chunks[c++] = metas[i];
    chunks[c++] = items[i].body;
  }
  return chunks;
}

/**
 * Splits a byte stream into frames. `onFrame(type, buf, start, end)` gets each frame's type
 * and the bytes after the type byte as buf[start, end) — a view, not a copy. A frame split
 * over several chunks is joined once, when its last byte arrives.
 */
export class FrameReader {
  #onFrame: (type: number, buf: Buffer, start: number, end: number) => void;
  #chunks: Buffer[] = [];
  #have = 0;
  #need = 0;

  constructor(onFrame: (type: number, buf: Buffer, start: number, end: number) => void) {
    this.#onFrame = onFrame;
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.#have > 0) {
      this.#chunks.push(chunk);
      this.#have += chunk.length;
      if (this.#have < this.#need) return;
      buf = Buffer.concat(this.#chunks, this.#have);
      this.#chunks = [];
      this.#have = 0;
    }
    const end = buf.length;
    let pos = 0;
    while (end - pos >= 5) {
      const stop = pos + 4 + buf.readUInt32LE(pos);
      if (stop > end) break;
      this.#onFrame(buf[pos + 4], buf, pos + 5, stop);
      pos = stop;
    }
    if (pos < end) {
      const rest = buf.subarray(pos);
      this.#need = rest.length >= 4 ? 4 + rest.readUInt32LE(0) : 5;
      this.#chunks = [rest];
      this.#have = rest.length;
    }
  }
}
