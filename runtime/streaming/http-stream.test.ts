// writeStream frames chunked bodies itself (one buffer per chunk): these check the framing on a
// real socket — what an HTTP/1.1 client parses, that the connection stays reusable, that an empty
// chunk does not end the body early, that an error after the first byte still ends it properly,
// and that an HTTP/1.0 client (no chunked coding) gets the plain bytes.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { BodyKind, type StreamError } from '../workers/types.ts';
import { chunkOf, writeStream } from './http-stream.ts';
import { WorkerStream } from './worker-stream.ts';

/** Each request gets these chunks, then the end (an error when the path says so). */
const CHUNKS = ['{"token":0}\n', '', '{"token":1}\n', 'x'.repeat(300) + '\n'];

let server: http.Server;
let port: number;

before(async () => {
  server = http.createServer((req, res) => {
    const stream = new WorkerStream({ credit: () => {}, cancel: () => {} });
    const failing = req.url === '/fail';
    writeStream(
      res,
      { status: 200, kind: BodyKind.Ndjson, body: Buffer.alloc(0), stream },
      { headers: [], onFirstByte: () => {}, onEnd: () => {} },
    );
    let i = 0;
    const next = (): void => {
      if (i < CHUNKS.length) {
        stream.push(Buffer.from(CHUNKS[i++]));
        setImmediate(next);
      } else {
        stream.finish(failing ? ({ error: 'boom' } satisfies StreamError) : undefined);
      }
    };
    next();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends raw requests on one connection and reads until `done` says the answer is whole. */
function raw(requests: string, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(requests));
    let text = '';
    socket.on('data', (d) => {
      text += d.toString('latin1');
      if (done(text)) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('writeStream: its own chunked framing', () => {
  test('chunkOf: hex size, CRLF, data, CRLF', () => {
    assert.equal(chunkOf(Buffer.from('x'.repeat(26))).toString(), `1a\r\n${'x'.repeat(26)}\r\n`);
  });

  test('an HTTP/1.1 client reads every chunk, an empty one changes nothing, the connection is reused', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string) =>
      new Promise<{ body: string; socket: net.Socket; te: string | undefined }>((resolve, reject) => {
        http
          .get({ port, host: '127.0.0.1', path, agent }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (body += d));
            res.on('end', () => resolve({ body, socket: res.socket, te: res.headers['transfer-encoding'] }));
          })
          .on('error', reject);
      });
    const a = await get('/');
    const b = await get('/fail');
    agent.destroy();
    assert.equal(a.te, 'chunked');
    assert.equal(a.body, CHUNKS.join(''));
    assert.equal(b.body, CHUNKS.join('') + '{"error":"boom"}\n', 'the error line is the last chunk');
    assert.equal(a.socket, b.socket, 'keep-alive: the second answer came on the same connection');
  });

  test('on the wire: one chunk per item, no zero-size chunk before the last', async () => {
    const text = await raw('GET / HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.endsWith('\r\n0\r\n\r\n'));
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    const sizes = [...body.matchAll(/([0-9a-f]+)\r\n/g)].map((m) => m[1]);
    assert.deepEqual(
      body,
      CHUNKS.filter((c) => c !== '')
        .map((c) => `${c.length.toString(16)}\r\n${c}\r\n`)
        .join('') + '0\r\n\r\n',
      `chunk sizes ${sizes.join(' ')}`,
    );
  });

  test('an HTTP/1.0 client gets the plain body, ended by the connection', async () => {
    const text = await raw('GET / HTTP/1.0\r\nHost: x\r\n\r\n', () => false);
    assert.doesNotMatch(text, /transfer-encoding/i);
    assert.equal(text.slice(text.indexOf('\r\n\r\n') + 4), CHUNKS.join(''));
  });
});
