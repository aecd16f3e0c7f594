// cortex predict against a cluster: through the API's route (status.url) once its Routed
// condition is True, through the API server's service proxy otherwise. A real HTTP server plays
// the Gateway; the Kubernetes client is a stand-in that only hands back the RealtimeAPI.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import type { RealtimeApi } from '../../operator/api/v1alpha1/index.ts';
import type { Connection } from './connect.ts';
import { predictThroughProxy } from './operations.ts';
import { routedUrl } from './status.ts';

async function text(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<string> {
  let out = '';
  for await (const chunk of body) out += Buffer.from(chunk).toString();
  return out;
}

const seen: { method?: string; url?: string; body: string; authorization?: string }[] = [];
const gateway = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    const { authorization } = req.headers;
    seen.push({ method: req.method, url: req.url, body, ...(authorization ? { authorization } : {}) });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"label":"setosa"}');
  });
});
await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
after(() => gateway.close());
const base = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;

function apiWith(routed: 'True' | 'Unknown'): RealtimeApi {
  return {
    apiVersion: 'cortex.dev/v1alpha1',
    kind: 'RealtimeAPI',
    metadata: { name: 'iris', namespace: 'ml', uid: 'u' },
    spec: {} as RealtimeApi['spec'],
    status: {
      url: `${base}/iris`,
      conditions: [
        { type: 'Routed', status: routed, reason: 'X', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' },
      ],
    },
  };
}

function connection(api: RealtimeApi, proxied: string[]): Connection {
  const client = {
    get: async () => api,
    rawStream: async (_method: string, path: string) => {
      proxied.push(path);
      return { status: 200, headers: {}, body: [Buffer.from('via proxy')] };
    },
  };
  return { client, namespace: 'ml', env: { name: 'prod' } } as unknown as Connection;
}

test('a routed API is called at its URL outside the cluster, the body as given', async () => {
  const proxied: string[] = [];
  const answer = await predictThroughProxy(
    connection(apiWith('True'), proxied),
    'iris',
    Buffer.from('{"x":1}'),
    'application/json',
  );
  assert.equal(answer.status, 200);
  assert.equal(await text(answer.body), '{"label":"setosa"}');
  assert.deepEqual(seen.at(-1), { method: 'POST', url: '/iris', body: '{"x":1}' });
  assert.deepEqual(proxied, [], 'not through the API server');
});

test('a route that does not serve yet is not used: the API server proxy is', async () => {
  const proxied: string[] = [];
  const before = seen.length;
  const answer = await predictThroughProxy(connection(apiWith('Unknown'), proxied), 'iris', Buffer.from('{}'), 'x');
  assert.equal(await text(answer.body), 'via proxy');
  assert.deepEqual(proxied, ['/api/v1/namespaces/ml/services/http:iris:80/proxy/']);
  assert.equal(seen.length, before);
  assert.equal(routedUrl(apiWith('Unknown')), undefined);
});

test('an API key goes by the route; without a serving route it is refused before anything is sent', async () => {
  const proxied: string[] = [];
  await predictThroughProxy(connection(apiWith('True'), proxied), 'iris', Buffer.from('{}'), 'x', 'ctx_me_s');
  assert.equal(seen.at(-1)?.authorization, 'Bearer ctx_me_s');
  const before = seen.length;
  await assert.rejects(
    predictThroughProxy(connection(apiWith('Unknown'), proxied), 'iris', Buffer.from('{}'), 'x', 'ctx_me_s'),
    /iris has no route that serves yet .*takes the Authorization header for itself/,
  );
  assert.deepEqual([proxied, seen.length], [[], before], 'nothing sent, the key neither');
});
