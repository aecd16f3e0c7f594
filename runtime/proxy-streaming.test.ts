// Streams through `cortex proxy` (a pod API's front), against a real streaming upstream standing
// in for the user's container (test/helpers/streaming.ts): chunks pass as they come, a client
// that reads nothing holds the container back, a client that leaves closes the container's
// connection and frees its pod.max_concurrency slot, and a stream counts as in flight until it ends.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { JsonLogger } from '../operator/util/log.ts';
import {
  assertStalledClientHoldsBack,
  readStream,
  streamingUpstream,
  type StreamingUpstream,
} from '../test/helpers/streaming.ts';
import { RequestProxy } from './proxy.ts';

let up: StreamingUpstream;
let proxy: RequestProxy;
let port = 0;
before(async () => {
  up = await streamingUpstream();
  proxy = new RequestProxy({
    api: 'chat',
    host: '127.0.0.1',
    port: 0,
    adminPort: 0,
    upstreamPort: up.port,
    maxConcurrency: 1,
    maxQueueLength: 4,
    logger: new JsonLogger({ level: 'error', sink: () => {} }),
  });
  port = (await proxy.listen()).port;
});
after(async () => {
  await proxy.drain(0);
  up.close();
});

test('each event reaches the client before the container writes the next; in flight until it ends', async () => {
  const inFlight: number[] = [];
  const read = await readStream(port, '/lockstep', {
    onChunk: () => {
      inFlight.push(proxy.inFlight);
      up.step();
    },
  });
  assert.equal(read.status, 200);
  assert.equal(read.headers['content-type'], 'text/event-stream');
  assert.equal(read.chunks.join(''), 'data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n');
  // (the last event and the end of the answer may come together: the last look is not asked)
  assert.ok(
    inFlight.slice(0, 3).every((n) => n === 1),
    `counted in flight while it streamed (${inFlight.join(' ')})`,
  );
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(proxy.inFlight, 0);
});

test('a client that reads nothing holds the container back: the proxy keeps no more than its sockets', async () => {
  await assertStalledClientHoldsBack(up, port, '/flood');
});

test("a client that leaves mid-stream closes the container's connection and frees the slot", async () => {
  const cut = up.nextCut();
  const controller = new AbortController();
  const response = await fetch(`http://127.0.0.1:${port}/lockstep`, { signal: controller.signal });
  const reader = response.body!.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), 'data: 0\n\n');
  controller.abort();
  await cut;
  // max_concurrency is 1: the next stream gets the slot at once rather than queueing behind it
  const read = await readStream(port, '/chunks?n=2&pause=1');
  assert.equal(read.chunks.join(''), 'data: 0\n\ndata: 1\n\n');
});
