// `cortex serve` on a Cortex 0.34-0.35 style project (test/fixtures/handler): a handler section,
// a Handler class answering several HTTP methods, a callback run after the response, a .env file.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot, serve, type Served } from './helpers/serve.ts';

const fixture = path.join(repoRoot, 'test', 'fixtures', 'handler');

describe('cortex serve: a Cortex 0.35 Handler', { concurrency: false }, () => {
  const callbackDir = mkdtempSync(path.join(tmpdir(), 'cortex-handler-callbacks-'));
  const callbacks = path.join(callbackDir, 'callbacks.jsonl');
  let s: Served;

  before(async () => {
    s = await serve(fixture, { env: { CALLBACK_DIR: callbackDir } });
  });
  after(async () => {
    await s?.stop();
    rmSync(callbackDir, { recursive: true, force: true });
  });

  test('POST runs handle_post and answers before its callback; the callback then runs', async () => {
    const res = await fetch(`${s.url}/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'first' }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id: '1' });
    assert.equal(existsSync(callbacks), false, 'answered before the callback finished');
    const until = Date.now() + 10_000;
    while (!existsSync(callbacks) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.equal(readFileSync(callbacks, 'utf8'), '{"created": "1"}\n');
  });

  test('GET / and GET /predict run handle_get (with query params); the .env variable reached the handler', async () => {
    const all = await fetch(`${s.url}/`);
    assert.equal(all.status, 200);
    assert.deepEqual(await all.json(), { notes: { 1: 'note:first' }, owner: 'Ada Lovelace' });
    const one = await fetch(`${s.url}/predict?id=1`);
    assert.equal(await one.text(), 'note:first');
    const head = await fetch(`${s.url}/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  });

  test('PUT and DELETE reach handle_put and handle_delete with their declared parameters', async () => {
    const put = await fetch(`${s.url}/?id=1`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'changed' }),
    });
    assert.deepEqual([put.status, await put.text()], [200, 'updated']);
    const unconfirmed = await fetch(`${s.url}/?id=1`, { method: 'DELETE' });
    assert.deepEqual(await unconfirmed.json(), { deleted: false });
    const deleted = await fetch(`${s.url}/?id=1`, { method: 'DELETE', headers: { 'X-Confirm': 'yes' } });
    assert.deepEqual(await deleted.json(), { deleted: true });
  });

  test('PATCH (no handle_patch) is 405, Allow naming its methods; health routes and /info answer', async () => {
    const patch = await fetch(`${s.url}/`, { method: 'PATCH', body: '{}' });
    assert.equal(patch.status, 405);
    assert.equal(patch.headers.get('allow'), 'GET, HEAD, POST, PUT, DELETE');
    assert.match(((await patch.json()) as { error: string }).error, /no handle_patch/);
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    // Cortex 0.35 served the API's summary at /info, whatever the Handler defines.
    const info = await fetch(`${s.url}/info`);
    assert.deepEqual([info.status, ((await info.json()) as { api: string }).api], [200, 'notes']);
    assert.equal((await fetch(`${s.url}/readyz`)).status, 200);
    assert.match(await (await fetch(`${s.url}/metrics`)).text(), /cortex_/);
    assert.equal((await fetch(`${s.url}/other`, { method: 'PUT' })).status, 404);
  });
});
