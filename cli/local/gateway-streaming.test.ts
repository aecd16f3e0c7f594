// Streams through the local gateway, against a real streaming upstream (test/helpers/streaming.ts):
// chunks pass as they come, a client that reads nothing holds the replica back (the gateway
// buffers no more than its sockets do), a client that leaves closes the replica's connection,
// and a shadow's endless stream is cut at the shadow deadline.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  assertStalledClientHoldsBack,
  readStream,
  streamingUpstream,
  type StreamingUpstream,
} from '../../test/helpers/streaming.ts';
import { Gateway, stripEndpoint, type RouteTable } from './gateway.ts';
import { ShadowSender } from './splitter.ts';

/** One API, "chat" at /chat, with the upstream as its one replica. */
function table(port: number): RouteTable {
  return {
    match: (pathname) =>
      stripEndpoint('/chat', pathname) === undefined ? undefined : { api: 'chat', endpoint: '/chat' },
    backends: () => [{ id: 'chat-0', port }],
    isLeaving: () => false,
    unavailableReason: () => 'starting',
    down: () => undefined,
    endpoints: () => [{ api: 'chat', endpoint: '/chat' }],
  };
}

describe('streams through the gateway', () => {
  let up: StreamingUpstream;
  let gateway: Gateway;
  let port = 0;
  before(async () => {
    up = await streamingUpstream();
    gateway = new Gateway(table(up.port), { holdMs: 1000, maxBodyBytes: 1 << 20 });
    port = (await gateway.listen(0, '127.0.0.1')).port;
  });
  after(async () => {
    await gateway.close();
    up.close();
  });

  test('each event reaches the client before the replica writes the next (no buffering)', async () => {
    // the upstream writes event i+1 only once the client has event i: buffered, this hangs
    const read = await readStream(port, '/chat/lockstep', { onChunk: () => up.step() });
    assert.equal(read.status, 200);
    assert.equal(read.headers['content-type'], 'text/event-stream');
    assert.equal(read.headers['content-length'], undefined);
    assert.equal(read.chunks.join(''), 'data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n');
    assert.ok(read.chunks.length >= 4, `one chunk per event at least (${read.chunks.length})`);
  });

  test('events with pauses arrive spread out, as written', async () => {
    const times: number[] = [];
    const read = await readStream(port, '/chat/chunks?n=5&pause=100', { onChunk: () => times.push(Date.now()) });
    assert.equal(read.chunks.join('').split('\n\n').length - 1, 5);
    assert.ok(times.at(-1)! - times[0] >= 350, `the last came ${times.at(-1)! - times[0]} ms after the first`);
  });

  test("a pause longer than the replica connections' idle timeout (3 s) does not cut a stream", async () => {
    const read = await readStream(port, '/chat/chunks?n=2&pause=3500');
    assert.equal(read.chunks.join(''), 'data: 0\n\ndata: 1\n\n');
  });

  test('a client that reads nothing holds the replica back: the gateway keeps no more than its sockets', async () => {
    await assertStalledClientHoldsBack(up, port, '/chat/flood');
  });

  test('a client that leaves mid-stream closes the connection to the replica', async () => {
    const cut = up.nextCut();
    const before = up.cut;
    const controller = new AbortController();
    const response = await fetch(`http://127.0.0.1:${port}/chat/lockstep`, { signal: controller.signal });
    const reader = response.body!.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), 'data: 0\n\n');
    controller.abort();
    await cut;
    assert.equal(up.cut, before + 1);
  });
});

test("a shadow's answer that streams on for ever is cut at the deadline and frees its place", async () => {
  const up = await streamingUpstream();
  const shadows = new ShadowSender(4, 300);
  try {
    const cut = up.nextCut();
    // a stream of 20 events 50 ms apart (1 s) against a 300 ms deadline; the socket is never idle
    shadows.send({ id: 'shadow-0', port: up.port }, 'GET', '/chunks?n=20&pause=50', {}, Buffer.alloc(0));
    assert.equal(shadows.inFlight, 1);
    const started = Date.now();
    await cut;
    assert.ok(Date.now() - started < 900, `cut after ${Date.now() - started} ms`);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(shadows.inFlight, 0);
    assert.equal(shadows.failed, 1);
    // a copy whose stream ends in time counts as sent
    shadows.send({ id: 'shadow-0', port: up.port }, 'GET', '/chunks?n=3&pause=10', {}, Buffer.alloc(0));
    while (shadows.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(shadows.sent, 1);
  } finally {
    shadows.close();
    up.close();
  }
});
