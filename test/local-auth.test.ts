// networking.auth: api_key in the local environment as a user drives it: cortex deploy, cortex
// api-key create/list/revoke, requests through the gateway (its supervisor, its replicas, a real
// TypeScript predictor), in a private $CORTEX_HOME on a free port.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { copyProject, localEnv, type LocalEnv } from './helpers/local.ts';
import { waitFor } from './helpers/wait.ts';

describe('local environment: an API behind API keys', { concurrency: false }, () => {
  let local: LocalEnv;
  let project: string;
  const cortex = async (args: string[], code = 0) => {
    const r = await local.cortex(args, { cwd: project });
    assert.equal(r.code, code, `cortex ${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
    return r;
  };
  const predict = async (key?: string) => {
    const res = await fetch(local.url('/typescript-sentiment'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: '{"text": "a great day"}',
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
  };

  before(async () => {
    local = await localEnv();
    project = copyProject('examples/typescript-sentiment');
    const file = path.join(project, 'cortex.yaml');
    writeFileSync(file, readFileSync(file, 'utf8') + '  networking:\n    auth: api_key\n');
    await cortex(['deploy', '-y']);
    await waitFor('the API to be live', async () => {
      const r = await local.cortex(['get', 'typescript-sentiment', '-o', 'json'], { cwd: project });
      return r.code === 0 && (JSON.parse(r.stdout) as { status: string }).status === 'live';
    });
  });
  after(async () => {
    await local?.cleanup();
    if (project) rmSync(project, { recursive: true, force: true });
  });

  test('without a key: 401; with a key made by cortex api-key create: the prediction', async () => {
    const refused = await predict();
    assert.equal(refused.status, 401);
    assert.match(refused.body, /"error":"this API needs an API key/);
    const { stdout } = await cortex(['api-key', 'create', '--api', 'typescript-sentiment', '--name', 'me']);
    const key = stdout.trim();
    await waitFor('the key works', async () => (await predict(key)).status === 200, 3000);
    assert.match((await predict(key)).body, /POSITIVE/);
    await cortex(['api-key', 'revoke', 'me', '--api', 'typescript-sentiment']);
    await waitFor('the revoked key is refused', async () => (await predict(key)).status === 401, 2000);
  });

  test('a rate-limited key: 429 with Retry-After past its burst', async () => {
    const { stdout } = await cortex([
      'api-key',
      'create',
      '--api',
      'typescript-sentiment',
      '--name',
      'slow',
      '--requests-per-second',
      '1',
      '--burst',
      '2',
    ]);
    const key = stdout.trim();
    await waitFor('the key works', async () => (await predict(key)).status === 200, 3000);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await predict(key)).status);
    assert.ok(statuses.includes(429), statuses.join(','));
    const last = await predict(key);
    assert.equal(last.status, 429);
    assert.equal(last.retryAfter, '1');
    const logs = readFileSync(path.join(local.home, 'supervisor.log'), 'utf8');
    assert.ok(!logs.includes(key.slice(-43)), 'the key is not in the supervisor log');
    assert.match(logs, /"api_key":"slow"/);
  });

  test('cortex delete removes the keys; a key for a missing API is refused', async () => {
    assert.ok(existsSync(path.join(local.home, 'api-keys', 'typescript-sentiment', 'slow')));
    await cortex(['delete', 'typescript-sentiment', '-y']);
    assert.ok(!existsSync(path.join(local.home, 'api-keys', 'typescript-sentiment')), 'its keys are gone');
    const r = await cortex(['api-key', 'list', '--api', 'typescript-sentiment'], 3);
    assert.match(r.stderr, /no API named typescript-sentiment/);
  });
});
