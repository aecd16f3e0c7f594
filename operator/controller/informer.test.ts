import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { Informer, type ListerWatcher } from './informer.ts';
import { KubeError, type KubeObject, type WatchEvent, type WatchHandle } from '../kube/client.ts';

function obj(name: string, rv: string): KubeObject {
  return { metadata: { name, namespace: 'ns', resourceVersion: rv } };
}

/** A fake API: a list answer per call, and watches the test drives by hand. */
class FakeSource implements ListerWatcher<KubeObject> {
  lists: { items: KubeObject[]; rv: string }[] = [];
  listCalls = 0;
  listError: Error | undefined;
  watchCalls: { resourceVersion: string; timeoutSeconds: number; allowWatchBookmarks: boolean }[] = [];
  watchError: (() => Error) | undefined;
  current: { send: (e: WatchEvent<KubeObject>) => void; end: (err?: Error) => void; aborted: boolean } | undefined;
  pages: { items: KubeObject[]; rv: string; continue?: string }[] | undefined;

  async list(options: { limit: number; continue?: string }) {
    this.listCalls++;
    if (this.listError) throw this.listError;
    if (this.pages) {
      const page = options.continue ? this.pages[Number(options.continue)] : this.pages[0];
      return { items: page.items, metadata: { resourceVersion: page.rv, continue: page.continue } };
    }
    const next = this.lists.length > 1 ? this.lists.shift()! : this.lists[0];
    return { items: next.items, metadata: { resourceVersion: next.rv } };
  }

  async watch(
    options: { resourceVersion: string; timeoutSeconds: number; allowWatchBookmarks: boolean },
    onEvent: (e: WatchEvent<KubeObject>) => void,
  ): Promise<WatchHandle> {
    this.watchCalls.push(options);
    if (this.watchError) throw this.watchError();
    let finish!: (err?: Error) => void;
    const done = new Promise<void>((resolve, reject) => {
      finish = (err) => (err ? reject(err) : resolve());
    });
    const w = { send: onEvent, end: finish, aborted: false };
    this.current = w;
    return {
      abort: () => {
        w.aborted = true;
        finish();
      },
      done,
    };
  }
}

async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await delay(2);
  }
}

function recorder(inf: Informer<KubeObject>) {
  const events: string[] = [];
  inf.on('add', (o) => events.push(`add ${o.metadata?.name}@${o.metadata?.resourceVersion}`));
  inf.on('update', (o) => events.push(`update ${o.metadata?.name}@${o.metadata?.resourceVersion}`));
  inf.on('delete', (o) => events.push(`delete ${o.metadata?.name}`));
  return events;
}

test('lists, then watches from the list resourceVersion with bookmarks; events update the cache', async () => {
  const src = new FakeSource();
  src.lists = [{ items: [obj('a', '1')], rv: '10' }];
  const inf = new Informer({ name: 't', source: src, resyncMs: 0 });
  const events = recorder(inf);
  inf.start();
  await inf.waitForSync();
  await until(() => src.current !== undefined, 'watch');
  assert.equal(src.watchCalls[0].resourceVersion, '10');
  assert.equal(src.watchCalls[0].allowWatchBookmarks, true);
  assert.ok(src.watchCalls[0].timeoutSeconds >= 300 && src.watchCalls[0].timeoutSeconds < 600);
  src.current!.send({ type: 'ADDED', object: obj('b', '11') });
  src.current!.send({ type: 'MODIFIED', object: obj('a', '12') });
  src.current!.send({ type: 'DELETED', object: obj('b', '13') });
  src.current!.send({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '20' } } });
  assert.deepEqual(events, ['add a@1', 'add b@11', 'update a@12', 'delete b']);
  assert.equal(inf.get('ns/a')?.metadata?.resourceVersion, '12');
  assert.equal(inf.get('ns/b'), undefined);
  // the server ends the watch: it resumes from the bookmark's resourceVersion, without a relist
  src.current!.end();
  await until(() => src.watchCalls.length === 2, 'second watch');
  assert.equal(src.watchCalls[1].resourceVersion, '20');
  assert.equal(src.listCalls, 1);
  await inf.stop();
});

test('410 Gone (an ERROR event or an HTTP 410) relists and reports only the differences', async () => {
  const src = new FakeSource();
  src.lists = [
    { items: [obj('a', '1'), obj('b', '2')], rv: '10' },
    { items: [obj('a', '1'), obj('c', '30')], rv: '31' },
    { items: [obj('a', '40'), obj('c', '30')], rv: '41' },
  ];
  const inf = new Informer({ name: 't', source: src, resyncMs: 0, backoff: { baseMs: 20, maxMs: 100, jitter: 0 } });
  const events = recorder(inf);
  inf.start();
  await until(() => src.current !== undefined, 'watch');
  src.current!.send({
    type: 'ERROR',
    object: { code: 410, reason: 'Expired', message: 'too old resource version' } as unknown as KubeObject,
  });
  await until(() => src.watchCalls.length === 2, 'watch after relist');
  assert.equal(src.listCalls, 2);
  assert.equal(src.watchCalls[1].resourceVersion, '31');
  assert.deepEqual(events, ['add a@1', 'add b@2', 'add c@30', 'delete b']);
  // an HTTP 410 when the watch starts does the same
  src.watchError = () => new KubeError('WATCH', '/x', 410, '{"reason":"Expired","message":"gone"}');
  src.current!.end();
  await until(() => src.listCalls === 3, 'relist after HTTP 410');
  src.watchError = undefined;
  await until(() => src.watchCalls.length >= 4, 'watch after second relist');
  assert.deepEqual(events.slice(4), ['update a@40']);
  assert.ok(inf.stats.relistsOnGone >= 2);
  assert.equal(inf.stats.errors, 0, '410 is not an error');
  await inf.stop();
});

test('errors back off exponentially, then relist; success resets the backoff', async () => {
  const src = new FakeSource();
  src.lists = [{ items: [obj('a', '1')], rv: '10' }];
  src.listError = new Error('connection refused');
  const warnings: number[] = [];
  const log = {
    debug() {},
    info() {},
    error() {},
    warn: (_m: string, f?: Record<string, unknown>) => warnings.push(Number(f?.attempt)),
  };
  const inf = new Informer({ name: 't', source: src, resyncMs: 0, backoff: { baseMs: 10, maxMs: 40, jitter: 0 }, log });
  const started = Date.now();
  inf.start();
  await until(() => src.listCalls >= 4, 'retries');
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 10 + 20 + 40 - 5, `waited ${elapsed} ms over 3 retries`);
  assert.deepEqual(warnings.slice(0, 3), [1, 2, 3]);
  assert.equal(inf.synced, false);
  src.listError = undefined;
  await inf.waitForSync();
  await until(() => src.current !== undefined, 'watch');
  // a broken watch stream is an error: backoff, then a relist
  const lists = src.listCalls;
  src.current!.end(new Error('socket hang up'));
  await until(() => src.listCalls === lists + 1, 'relist after error');
  await inf.stop();
});

test('a watch on which nothing arrives is aborted after idleTimeoutMs and resumed', async () => {
  const src = new FakeSource();
  src.lists = [{ items: [], rv: '5' }];
  const inf = new Informer({ name: 't', source: src, resyncMs: 0, idleTimeoutMs: 250 });
  inf.start();
  await until(() => src.watchCalls.length >= 1, 'watch');
  const first = src.current!;
  // keep it alive with bookmarks for longer than the idle timeout
  for (let i = 0; i < 4; i++) {
    await delay(100);
    first.send({ type: 'BOOKMARK', object: { metadata: { resourceVersion: String(6 + i) } } });
  }
  assert.equal(first.aborted, false, 'bookmarks keep the watch alive');
  await until(() => first.aborted, 'idle abort', 2000);
  await until(() => src.watchCalls.length === 2, 'resumed watch');
  assert.equal(src.watchCalls[1].resourceVersion, '9');
  assert.equal(src.listCalls, 1, 'resumed without relisting');
  assert.ok(inf.stats.idleAborts >= 1);
  await inf.stop();
});

test('periodic resync reports every cached object again; a throwing handler breaks nothing', async () => {
  const src = new FakeSource();
  src.lists = [{ items: [obj('a', '1'), obj('b', '2')], rv: '5' }];
  const errors: string[] = [];
  const log = { debug() {}, info() {}, warn() {}, error: (m: string) => errors.push(m) };
  const inf = new Informer({ name: 't', source: src, resyncMs: 20, log });
  const updates: string[] = [];
  inf.on('add', () => {
    throw new Error('handler bug');
  });
  inf.on('update', (o, old) => {
    assert.equal(o, old);
    updates.push(o.metadata!.name!);
  });
  inf.start();
  await until(() => updates.length >= 4, 'two resyncs');
  assert.deepEqual(updates.slice(0, 2).sort(), ['a', 'b']);
  assert.equal(errors.length, 2);
  await inf.stop();
});

test('lists every page', async () => {
  const src = new FakeSource();
  src.pages = [
    { items: [obj('a', '1')], rv: '9', continue: '1' },
    { items: [obj('b', '2')], rv: '9', continue: '2' },
    { items: [obj('c', '3')], rv: '9' },
  ];
  const inf = new Informer({ name: 't', source: src, resyncMs: 0, pageSize: 1 });
  inf.start();
  await inf.waitForSync();
  assert.deepEqual(
    inf.list().map((o) => o.metadata?.name),
    ['a', 'b', 'c'],
  );
  await inf.stop();
});

test('stop ends a running watch and a pending backoff', async () => {
  const src = new FakeSource();
  src.listError = new Error('down');
  const inf = new Informer({
    name: 't',
    source: src,
    resyncMs: 0,
    backoff: { baseMs: 60_000, maxMs: 60_000, jitter: 0 },
  });
  inf.start();
  await until(() => src.listCalls === 1, 'first list');
  const t = Date.now();
  await inf.stop();
  assert.ok(Date.now() - t < 500);
});
