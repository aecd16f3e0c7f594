// WebSockets in the local environment as a user drives it: cortex deploy of
// examples/websocket-tokens behind an API key, cortex api-key create, and a socket through the
// gateway's port (its supervisor, its replica, a real Python predictor), in a private $CORTEX_HOME.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { copyProject, localEnv, type LocalEnv } from './helpers/local.ts';
import { waitFor } from './helpers/wait.ts';
import { connect, refused } from './helpers/ws-client.ts';

let local: LocalEnv;
let project: string;
const cortex = async (args: string[]) => {
  const r = await local.cortex(args, { cwd: project });
  assert.equal(r.code, 0, `cortex ${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
  return r;
};

before(async () => {
  local = await localEnv();
  project = copyProject('examples/websocket-tokens');
  const file = path.join(project, 'cortex.yaml');
  writeFileSync(file, readFileSync(file, 'utf8') + '  networking:\n    auth: api_key\n');
  await cortex(['deploy', '-y']);
  await waitFor('the API to be live', async () => {
    const r = await local.cortex(['get', 'tokens', '-o', 'json'], { cwd: project });
    return r.code === 0 && (JSON.parse(r.stdout) as { status: string }).status === 'live';
  });
});
after(async () => {
  await local?.cleanup();
  if (project) rmSync(project, { recursive: true, force: true });
});

test('cortex deploy: tokens over a socket through the gateway, with a key made by cortex api-key create', async () => {
  const url = local.url('/tokens').replace(/^http/, 'ws');
  assert.equal((await refused(url)).status, 401);
  const key = (await cortex(['api-key', 'create', '--api', 'tokens', '--name', 'me'])).stdout.trim();
  const headers = { authorization: `Bearer ${key}` };
  await waitFor('the key works', async () => {
    try {
      (await connect(url, { headers })).ws.close();
      return true;
    } catch {
      return false;
    }
  });
  const c = await connect(url, { headers });
  c.ws.send(JSON.stringify({ prompt: 'hi' }));
  const got: unknown[] = [];
  for (;;) {
    const m = JSON.parse(String(await c.next())) as { token?: string; done?: boolean };
    got.push(m);
    if (m.done) break;
  }
  assert.deepEqual(got, [{ token: 'you' }, { token: 'said:' }, { token: 'hi' }, { done: true }]);
  c.ws.close();
});
