// The records of a streamed gRPC answer (stream.ts) split right however the bytes were chunked.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecordReader } from './stream.ts';

const reply = (text: string) => {
  const body = Buffer.from(text);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length);
  return Buffer.concat([head, body]);
};
const status = (pairs: [string, string][]) => {
  const body = Buffer.from(JSON.stringify(pairs));
  const head = Buffer.alloc(8);
  head.writeUInt32LE(0xffffffff, 0);
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
};

test('records split at any chunk boundary: replies (empty ones too) and the status', () => {
  const bytes = Buffer.concat([reply('one'), reply(''), reply('three'), status([['grpc-status', '0']])]);
  for (let size = 1; size <= bytes.length; size++) {
    const reader = new RecordReader();
    const records = [];
    for (let at = 0; at < bytes.length; at += size) records.push(...reader.push(bytes.subarray(at, at + size)));
    assert.deepEqual(
      records.map((r) => ('reply' in r ? r.reply.toString() : r.pairs)),
      ['one', '', 'three', [['grpc-status', '0']]],
      `chunks of ${size} bytes`,
    );
  }
});
