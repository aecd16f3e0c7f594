// The JSON client against a local HTTP server standing in for the API server: what goes on
// the wire for server-side apply, how errors read, watch line framing, connection reuse.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpMethod, KubeConfig } from '@kubernetes/client-node';
import { KubeClient, KubeError, isNotFound, resourcePath, type WatchEvent } from './client.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  socket: number;
}

let server: Server;
let client: KubeClient;
const seen: Seen[] = [];
let sockets = 0;

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const socket = (req.socket as unknown as { id?: number }).id ?? 0;
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body, socket });
      const url = new URL(req.url!, 'http://x');
      if (url.pathname.endsWith('/gone')) {
        res.writeHead(410, { 'content-type': 'application/json' });
        return void res.end(
          JSON.stringify({ kind: 'Status', reason: 'Expired', message: 'too old resource version', code: 410 }),
        );
      }
      if (url.searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'content-type': 'application/json' });
        const a = JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '2' } } });
        const b = JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '3' } } });
        // one event split over two chunks, two events in one chunk
        res.write(a.slice(0, 10));
        setTimeout(() => {
          res.write(`${a.slice(10)}\n${b}\n`);
          setTimeout(() => res.end(), 10);
        }, 10);
        return;
      }
      if (url.pathname.endsWith('/proxy/stream')) {
        // a streaming answer through a service proxy: the second part 300 ms after the first
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
        setTimeout(() => res.end('data: 2\n\n'), 300);
        return;
      }
      if (url.pathname.endsWith('/missing')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        return void res.end(
          JSON.stringify({
            kind: 'Status',
            status: 'Failure',
            reason: 'NotFound',
            message: 'deployments.apps "missing" not found',
            code: 404,
          }),
        );
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body || JSON.stringify({ items: [], metadata: { resourceVersion: '1' } }));
    });
  });
  server.on('connection', (s) => {
    (s as unknown as { id: number }).id = ++sockets;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      { name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true },
    ],
    users: [{ name: 'u', token: 'secret-token', impersonateUser: 'system:serviceaccount:ns:sa' } as never],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  client = new KubeClient(kc);
});

after(() => {
  server.closeAllConnections();
  server.close();
});

const DEPLOYMENTS = { group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments' };

test('paths of collections, objects and subresources', () => {
  assert.equal(resourcePath(DEPLOYMENTS), '/apis/apps/v1/deployments');
  assert.equal(
    resourcePath({ group: '', version: 'v1', kind: 'Pod', plural: 'pods' }, 'ns'),
    '/api/v1/namespaces/ns/pods',
  );
  assert.equal(
    resourcePath(
      { group: 'cortex.dev', version: 'v1alpha1', kind: 'RealtimeAPI', plural: 'realtimeapis' },
      'ns',
      'iris',
      'status',
    ),
    '/apis/cortex.dev/v1alpha1/namespaces/ns/realtimeapis/iris/status',
  );
});

test(
  'server-side apply: PATCH, apply content type, field manager, force, ' +
    'strict validation, no managedFields/resourceVersion',
  async () => {
    seen.length = 0;
    const obj = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'iris', namespace: 'ml', resourceVersion: '9', managedFields: [{}] },
      spec: { x: 1 },
    };
    const back = await client.apply(DEPLOYMENTS, obj, { fieldManager: 'cortex-operator', force: true });
    const req = seen[0];
    assert.equal(req.method, 'PATCH');
    const url = new URL(req.url, 'http://x');
    assert.equal(url.pathname, '/apis/apps/v1/namespaces/ml/deployments/iris');
    assert.equal(url.searchParams.get('fieldManager'), 'cortex-operator');
    assert.equal(url.searchParams.get('force'), 'true');
    assert.equal(url.searchParams.get('fieldValidation'), 'Strict');
    assert.equal(req.headers['content-type'], 'application/apply-patch+yaml');
    assert.equal(req.headers.authorization, 'Bearer secret-token');
    assert.equal(req.headers['impersonate-user'], 'system:serviceaccount:ns:sa');
    const sent = JSON.parse(req.body);
    assert.equal(sent.metadata.resourceVersion, undefined);
    assert.equal(sent.metadata.managedFields, undefined);
    assert.equal(obj.metadata.resourceVersion, '9', "the caller's object is left alone");
    assert.deepEqual(back.spec, { x: 1 });
    await client.apply(DEPLOYMENTS, obj, { fieldManager: 'status-manager', subresource: 'status' });
    assert.match(seen[1].url, /\/deployments\/iris\/status\?/);
    assert.equal(new URL(seen[1].url, 'http://x').searchParams.get('force'), null);
  },
);

test("error answers become KubeErrors with the code, reason and the server's message", async () => {
  const err = await client.get(DEPLOYMENTS, 'ml', 'missing').catch((e: unknown) => e);
  assert.ok(err instanceof KubeError);
  assert.equal(err.code, 404);
  assert.equal(err.reason, 'NotFound');
  assert.equal(err.serverMessage, 'deployments.apps "missing" not found');
  assert.ok(isNotFound(err));
});

test('requests reuse kept-alive connections (one dispatcher for the client, not one per request)', async () => {
  seen.length = 0;
  const opened = sockets;
  for (let i = 0; i < 10; i++) await client.list(DEPLOYMENTS, 'ml', { labelSelector: 'cortex.dev/api', limit: 10 });
  assert.ok(sockets - opened <= 1, `${sockets - opened} new connections for 10 requests`);
  assert.equal(new URL(seen[0].url, 'http://x').searchParams.get('labelSelector'), 'cortex.dev/api');
});

test('watch: events split across chunks are framed by lines; done resolves when the server ends', async () => {
  const events: WatchEvent<{ metadata: { name?: string; resourceVersion: string } }>[] = [];
  const handle = await client.watch(
    DEPLOYMENTS,
    undefined,
    { resourceVersion: '1', timeoutSeconds: 300, allowWatchBookmarks: true },
    (e) => events.push(e as never),
  );
  await handle.done;
  assert.deepEqual(
    events.map((e) => [e.type, e.object.metadata.resourceVersion]),
    [
      ['ADDED', '2'],
      ['BOOKMARK', '3'],
    ],
  );
  const url = new URL(seen[seen.length - 1].url, 'http://x');
  assert.equal(url.searchParams.get('watch'), 'true');
  assert.equal(url.searchParams.get('allowWatchBookmarks'), 'true');
  assert.equal(url.searchParams.get('resourceVersion'), '1');
  assert.equal(url.searchParams.get('timeoutSeconds'), '300');
});

test('watch: an HTTP error (410) rejects with its code', async () => {
  const gone = { group: 'apps', version: 'v1', kind: 'X', plural: 'gone' };
  const err = await client
    .watch(gone, undefined, { resourceVersion: '1', timeoutSeconds: 1, allowWatchBookmarks: true }, () => {})
    .catch((e: unknown) => e);
  assert.ok(err instanceof KubeError);
  assert.equal(err.code, 410);
});

test('rawStream: the body as it arrives, each part when it comes; raw() gathers it', async () => {
  const path = '/api/v1/namespaces/ml/services/http:chat:8888/proxy/stream';
  const answer = await client.rawStream(HttpMethod.POST, path, { body: Buffer.from('{}') });
  assert.equal(answer.status, 200);
  assert.equal(answer.headers['content-type'], 'text/event-stream');
  const parts: { text: string; at: number }[] = [];
  for await (const chunk of answer.body) parts.push({ text: Buffer.from(chunk).toString(), at: Date.now() });
  assert.deepEqual(
    parts.map((p) => p.text),
    ['data: 1\n\n', 'data: 2\n\n'],
  );
  assert.ok(parts[1].at - parts[0].at >= 250, 'the first part came before the second was written');
  assert.equal((await client.raw(HttpMethod.POST, path)).body.toString(), 'data: 1\n\ndata: 2\n\n');
});
