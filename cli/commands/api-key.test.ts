import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { applyDefaults, type AuthMode } from '../../operator/api/v1alpha1/index.ts';
import { hashKey, keyId } from '../../operator/auth/keys.ts';
import type { ApiRecord } from '../local/state.ts';
import { localKeysDir } from '../local/keys.ts';
import { apiStatus, cortexIn as cortex, prodEnv, supervisorStatus, testFactory } from './testing.ts';

function withApis(apis: Record<string, AuthMode>) {
  const records: Record<string, ApiRecord> = {};
  for (const [name, auth] of Object.entries(apis)) {
    records[name] = {
      name,
      createdAt: new Date().toISOString(),
      version: {
        configFile: '/project/cortex.yaml',
        spec: applyDefaults(name, { predictor: { type: 'python', path: 'p.py' }, networking: { auth } }),
      },
    } as ApiRecord;
  }
  return testFactory({ local: { records: () => records } });
}

test('create prints the key once on stdout and stores only its hash (0600, in a 0700 folder)', async () => {
  const f = withApis({ iris: 'api_key' });
  try {
    const r = await cortex(f, 'api-key', 'create', '--api', 'iris', '--name', 'ci', '--requests-per-second', '5');
    assert.equal(r.code, 0, r.stderr);
    const key = r.stdout.trim();
    assert.equal(keyId(key), 'ci');
    assert.match(r.stderr, /created the key ci for iris \(stored hashed in .*api-keys\/iris\); it is shown only now/);
    const dir = localKeysDir(f.layoutOf, 'iris');
    assert.deepEqual(readdirSync(dir), ['ci']);
    const stored = readFileSync(path.join(dir, 'ci'), 'utf8');
    assert.ok(!stored.includes(key.slice(-43)));
    assert.equal(JSON.parse(stored).sha256, hashKey(key));
    assert.equal(JSON.parse(stored).requestsPerSecond, 5);
    assert.equal(statSync(path.join(dir, 'ci')).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);

    const list = await cortex(f, 'api-key', 'list', '--api', 'iris');
    assert.match(list.stdout, /^name\s+rate limit\s+created\nci\s+5\/s, burst 5\s+\d{4}-/);
    assert.ok(!list.stdout.includes(key.slice(-43)));
    const json = await cortex(f, 'api-key', 'list', '--api', 'iris', '-o', 'json');
    assert.deepEqual(
      (JSON.parse(json.stdout) as { keys: { name: string }[] }).keys.map((k) => k.name),
      ['ci'],
    );

    const again = await cortex(f, 'api-key', 'create', '--api', 'iris', '--name', 'ci');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /iris already has a key named ci .*choose another --name, or revoke it first/);

    const revoked = await cortex(f, 'api-key', 'revoke', 'ci', '--api', 'iris');
    assert.equal(revoked.stdout, 'revoked the key ci of iris\n');
    assert.deepEqual(readdirSync(dir), []);
    const twice = await cortex(f, 'api-key', 'revoke', 'ci', '--api', 'iris');
    assert.equal(twice.code, 3);
    assert.match(twice.stderr, /iris has no key named ci: it has no keys/);
  } finally {
    f.cleanup();
  }
});

test('bad input is refused with what to do, and nothing is written', async () => {
  const f = withApis({ iris: 'api_key', open: 'none' });
  try {
    const refuse = async (code: number, pattern: RegExp, ...args: string[]) => {
      const r = await cortex(f, 'api-key', ...args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stdout, '');
    };
    await refuse(3, /no API named missing; deployed: iris, open/, 'create', '--api', 'missing');
    await refuse(
      2,
      /--name "Bad_Name": a key's name is 1-40 lowercase/,
      'create',
      '--api',
      'iris',
      '--name',
      'Bad_Name',
    );
    await refuse(
      2,
      /--requests-per-second must be a number greater than 0, got "0"/,
      'create',
      '--api',
      'iris',
      '--requests-per-second',
      '0',
    );
    await refuse(
      2,
      /--burst is the bucket size of a rate limit: give --requests-per-second too/,
      'create',
      '--api',
      'iris',
      '--burst',
      '3',
    );
    await refuse(2, /required option '--api <name>' not specified/, 'create');
    assert.deepEqual(readdirSync(f.home).includes('api-keys') ? readdirSync(path.join(f.home, 'api-keys')) : [], []);
    // an API with auth: none may get keys ahead of switching auth on; the warning says they are not checked yet
    const r = await cortex(f, 'api-key', 'create', '--api', 'open');
    assert.equal(r.code, 0);
    assert.match(
      r.stderr,
      /warning: open has networking\.auth: none \(\/project\/cortex\.yaml\), so this key is not checked yet: set networking\.auth: api_key and deploy/,
    );
    assert.match(r.stdout, /^ctx_k[0-9a-f]{8}_\S{43}\n$/);
  } finally {
    f.cleanup();
  }
});

test('predict --api-key (or CORTEX_API_KEY) sends Authorization: Bearer locally; a cluster says why not', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cortex-predict-key-'));
  const sample = path.join(dir, 'sample.json');
  writeFileSync(sample, '{}');
  const seen: (string | null)[] = [];
  const f = testFactory({
    environments: [prodEnv],
    local: {
      status: () => Promise.resolve(supervisorStatus([apiStatus()])),
      fetch: (url, init) => {
        seen.push(new Request(url, init).headers.get('authorization'));
        return Promise.resolve(new Response('{}', { headers: { 'content-type': 'application/json' } }));
      },
    },
  });
  try {
    assert.equal((await cortex(f, 'predict', 'iris', sample, '--api-key', 'ctx_me_x')).code, 0);
    assert.equal((await cortex(f, 'predict', 'iris', sample)).code, 0);
    assert.deepEqual(seen, ['Bearer ctx_me_x', null]);
  } finally {
    f.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
