// A server-streaming RPC's replies as the worker streams them (STREAM_START/CHUNK/END frames,
// runtime/PROTOCOL.md; runtime/python/cortex_grpc.py): the stream's bytes are records, each a
// u32 LE length then that many bytes of one reply message, or the marker 0xFFFFFFFF, a u32 length
// and UTF-8 JSON [[key, value], ...] (grpc-status, grpc-message, trailing metadata, initial:<key>
// for initial metadata) — so message boundaries never depend on how the bytes were chunked.
// Each reply is written to the call as it arrives; bytes are credited back to the worker as the
// HTTP/2 stream takes them, so a slow client slows the generator; a cancelled call cancels it.

import * as grpc from '@grpc/grpc-js';
import { BodyKind, type PredictResult } from '../workers/types.ts';
import { grpcAnswer, type GrpcAnswer } from './answer.ts';

const STATUS_MARK = 0xffffffff;

/** Splits a byte stream into records, however it was chunked. */
export class RecordReader {
  #pending: Buffer = Buffer.alloc(0);

  /** The complete records in `chunk` (and what came before it): replies, and status pairs. */
  push(chunk: Buffer): ({ reply: Buffer } | { pairs: [string, string][] })[] {
    let buf = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    const out: ({ reply: Buffer } | { pairs: [string, string][] })[] = [];
    for (;;) {
      if (buf.length < 4) break;
      const n = buf.readUInt32LE(0);
      if (n === STATUS_MARK) {
        if (buf.length < 8 || buf.length < 8 + buf.readUInt32LE(4)) break;
        const end = 8 + buf.readUInt32LE(4);
        out.push({ pairs: JSON.parse(buf.toString('utf8', 8, end)) as [string, string][] });
        buf = buf.subarray(end);
      } else {
        if (buf.length < 4 + n) break;
        out.push({ reply: buf.subarray(4, 4 + n) });
        buf = buf.subarray(4 + n);
      }
    }
    this.#pending = Buffer.from(buf);
    return out;
  }
}

/** Writes the streamed replies to `call`; `finish` gets the final status (once). */
export function pipeReplies(
  call: grpc.ServerWritableStream<Buffer, Buffer>,
  result: PredictResult,
  finish: (answer: GrpcAnswer) => void,
  onFirstReply: () => void,
): void {
  const stream = result.stream!;
  const reader = new RecordReader();
  let ended = false;
  let sentInitial = false;
  let first = true;
  let status: GrpcAnswer | undefined;
  call.on('cancelled', () => {
    if (ended) return;
    ended = true;
    stream.cancel();
  });
  stream.pipe({
    chunk(data) {
      if (ended) return;
      const records = reader.push(data);
      const last = records.findLastIndex((r) => 'reply' in r);
      // credited once HTTP/2 took the chunk's last reply (its write callback); a chunk of no
      // whole reply at once (the reader holds at most one window)
      if (last < 0) stream.credit(data.length);
      records.forEach((record, i) => {
        if ('pairs' in record) {
          status = grpcAnswer({ status: 200, kind: BodyKind.Custom, headers: record.pairs, body: Buffer.alloc(0) });
          if (status.initial !== undefined && !sentInitial) {
            sentInitial = true;
            call.sendMetadata(status.initial);
          }
        } else {
          if (first) onFirstReply();
          first = false;
          sentInitial = true;
          if (i === last) call.write(record.reply, () => stream.credit(data.length));
          else call.write(record.reply);
        }
      });
    },
    end(error) {
      if (ended) return;
      ended = true;
      if (status !== undefined && error === undefined) return finish({ ...status, initial: undefined });
      const details = error?.error ?? 'the stream ended without a status';
      finish({
        code: grpc.status.INTERNAL,
        details,
        trailers: new grpc.Metadata(),
        initial: undefined,
        body: Buffer.alloc(0),
      });
    },
  });
}
