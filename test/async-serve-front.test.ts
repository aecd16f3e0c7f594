// `cortex serve --queue` of an AsyncAPI answers the async front itself (POST / → {id}, GET /<id>),
// as the Service in front of a cluster's replicas needs (docs/async.md, "In a cluster"): a real
// replica process, a real Python predictor and a real redis-server.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { redisMissing, startRedis, type RedisServer } from './helpers/redis-server.ts';
import { serve, type Served } from './helpers/serve.ts';
import { waitFor } from './helpers/wait.ts';

describe('an AsyncAPI replica serves the async front', { skip: redisMissing }, () => {
  let redis: RedisServer;
  let replica: Served;
  const project = mkdtempSync(path.join(tmpdir(), 'cortex-async-front-'));

  before(async () => {
    redis = await startRedis();
    writeFileSync(
      path.join(project, 'handler.py'),
      'class Handler:\n    def __init__(self, config):\n        pass\n\n' +
        '    def handle_async(self, payload):\n        return {"words": len(payload["text"].split())}\n',
    );
    writeFileSync(
      path.join(project, 'cortex.yaml'),
      '- name: words\n  kind: AsyncAPI\n  handler: {type: python, path: handler.py}\n',
    );
    replica = await serve(project, { args: ['--queue', redis.url, '--grace-period', '1'] });
  });
  after(async () => {
    await replica?.stop();
    await redis?.close();
    rmSync(project, { recursive: true, force: true });
  });

  test('POST / is queued and answered with an id; GET /<id> answers the completed record', async () => {
    const posted = await fetch(replica.url, {
      method: 'POST',
      body: JSON.stringify({ text: 'one two three' }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(posted.status, 200);
    const { id } = (await posted.json()) as { id: string };
    assert.match(id, /^[0-9a-f-]{36}$/);
    const done = await waitFor('the request to complete', async () => {
      const r = (await (await fetch(`${replica.url}/${id}`)).json()) as { status: string; result?: unknown };
      return r.status === 'completed' ? r : undefined;
    });
    assert.deepEqual(done.result, { words: 3 });
    assert.equal((await fetch(`${replica.url}/no-such-id`)).status, 404);
  });

  test("the kubelet and Prometheus paths stay the replica's own", async () => {
    assert.equal((await fetch(`${replica.url}/readyz`)).status, 200);
    assert.match(await (await fetch(`${replica.url}/metrics`)).text(), /cortex_/);
    assert.equal((await fetch(`${replica.url}/`, { method: 'PUT' })).status, 405);
  });
});
