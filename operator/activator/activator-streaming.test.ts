// Streams through the activator, against a real streaming upstream (test/helpers/streaming.ts) on
// a loopback IP the in-memory backend reports as the API's replica: a stream held through a wake
// from zero passes chunk by chunk, a client that reads nothing holds the replica back, and a
// client that leaves closes the replica's connection.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import {
  assertStalledClientHoldsBack,
  readStream,
  streamingUpstream,
  type StreamingUpstream,
} from '../../test/helpers/streaming.ts';
import { silentLogger } from '../util/log.ts';
import { Activator, type Backend } from './activator.ts';

const IP = '127.0.0.9';
const API = { 'x-cortex-api': 'ml/chat' };

/** One API, ml/chat, at zero until woken; its replica is ready WAKE_MS after the wake. */
class OneApi implements Backend {
  ready = Promise.resolve();
  replicas: string[] = [];
  wakes = 0;
  private listeners = new Set<() => void>();
  api = (ns: string, name: string) => (`${ns}/${name}` === 'ml/chat' ? {} : undefined);
  readyReplicas = () => this.replicas;
  runningReplicas = () => this.replicas;
  watch(_ns: string, _name: string, listener: () => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  wake() {
    this.wakes++;
    setTimeout(() => {
      this.replicas = [IP];
      for (const l of this.listeners) l();
    }, 200);
    return Promise.resolve({ from: 0, to: 1 });
  }
}

let up: StreamingUpstream;
let backend: OneApi;
let activator: Activator;
let port = 0;
before(async () => {
  up = await streamingUpstream(IP);
  backend = new OneApi();
  activator = new Activator({ backend, log: silentLogger, registry: new Registry(), replicaPort: up.port });
  port = await activator.listen(0, '127.0.0.1');
});
after(async () => {
  await activator.close();
  up.close();
});

test('a stream held through a wake from zero passes event by event, each before the next is written', async () => {
  const started = Date.now();
  const read = await readStream(port, '/lockstep', { headers: API, onChunk: () => up.step() });
  assert.equal(backend.wakes, 1, 'the request woke the API');
  assert.ok(Date.now() - started >= 200, 'it was held until the replica was ready');
  assert.equal(read.status, 200);
  assert.equal(read.headers['content-type'], 'text/event-stream');
  assert.equal(read.chunks.join(''), 'data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n');
  assert.equal(activator.held('ml', 'chat'), 0);
});

test('a client that reads nothing holds the replica back: the activator keeps no more than its sockets', async () => {
  await assertStalledClientHoldsBack(up, port, '/flood', API);
});

test('a client that leaves mid-stream closes the connection to the replica', async () => {
  const cut = up.nextCut();
  const controller = new AbortController();
  const response = await fetch(`http://127.0.0.1:${port}/lockstep`, { headers: API, signal: controller.signal });
  const reader = response.body!.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), 'data: 0\n\n');
  controller.abort();
  await cut;
});
