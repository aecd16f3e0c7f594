// A TrafficSplitter in the local environment, end to end: `cortex deploy` of three real Python
// APIs and a splitter, requests through the gateway at the splitter's endpoint split by weight
// with a copy to the shadow, `cortex get SPLITTER` with each API's rates side by side, a weight
// change by deploying again, and a splitter naming a missing API refused before anything runs.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { localEnv, type LocalEnv } from './helpers/local.ts';
import { postJson, repoRoot } from './helpers/serve.ts';

interface Backend {
  api: string;
  weight: number | 'shadow';
  status: string;
  total: { '2XX': number; '5XX': number };
  errorRate?: number;
}

describe('a TrafficSplitter in the local environment', { concurrency: false }, () => {
  let local: LocalEnv;
  let project: string;
  before(async () => {
    local = await localEnv();
    project = mkdtempSync(path.join(tmpdir(), 'cortex-splitter-'));
    cpSync(path.join(repoRoot, 'test', 'fixtures', 'local', 'splitter'), project, { recursive: true });
  });
  after(async () => {
    await local?.cleanup();
    if (project) rmSync(project, { recursive: true, force: true });
  });

  test('a splitter naming an API that is neither in the file nor deployed is refused, nothing deployed', async () => {
    const file = path.join(project, 'cortex.yaml');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('    - name: canary\n      weight: 20', '    - name: canry\n      weight: 20'));
    try {
      const r = await local.cortex(['deploy', project]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /cortex\.yaml:24: TrafficSplitter model: apis\.1\.name: no API canry in this file or in the local environment/,
      );
      assert.match(r.stderr, /nothing was deployed/);
      const get = await local.cortex(['get', '-o', 'json']);
      assert.deepEqual(JSON.parse(get.stdout || '[]'), []);
    } finally {
      writeFileSync(file, good);
    }
  });

  test('requests split by weight, the shadow gets a copy of each, cortex get shows the rates', async () => {
    const r = await local.cortex(['deploy', project]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /TrafficSplitter model at \/model \(stable 80%, canary 20%, shadow shadow\)/);
    const n = 400;
    const versions: string[] = [];
    for (let i = 0; i < n; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, () =>
          postJson(local.url('/model'), {}).then((a) => a.json() as Promise<{ version: string }>),
        ),
      );
      versions.push(...batch.map((b) => b.version));
    }
    const canary = versions.filter((v) => v === 'canary').length;
    assert.equal(versions.filter((v) => v === 'shadow').length, 0, 'clients never get the shadow answer');
    assert.ok(canary > n * 0.1 && canary < n * 0.3, `canary answered ${canary} of ${n}`);
    const get = await local.cortex(['get', 'model', '-o', 'json']);
    assert.equal(get.code, 0, get.stderr);
    const backends = (JSON.parse(get.stdout) as { backends: Backend[] }).backends;
    const by = Object.fromEntries(backends.map((b) => [b.api, b]));
    assert.equal(by.stable.total['2XX'], n - canary);
    assert.equal(by.canary.total['2XX'], canary);
    assert.equal(by.shadow.weight, 'shadow');
    assert.equal(by.shadow.total['2XX'], n, 'a copy of every request');
    const text = await local.cortex(['get', 'model']);
    assert.match(text.stdout, /api\s+weight\s+status\s+requests\/s\s+errors \(5XX\)/);
    assert.match(text.stdout, /canary\s+20%\s+live/);
  });

  test('a weight change is cortex deploy again; the APIs are up to date', async () => {
    const file = path.join(project, 'cortex.yaml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('weight: 80', 'weight: 0').replace('weight: 20', 'weight: 100'),
    );
    const r = await local.cortex(['deploy', project]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /TrafficSplitter model at \/model \(stable 0%, canary 100%, shadow shadow\)/);
    for (let i = 0; i < 20; i++) {
      const answer = (await (await postJson(local.url('/model'), {})).json()) as { version: string };
      assert.equal(answer.version, 'canary');
    }
  });

  test('cortex delete SPLITTER removes the endpoint and leaves its APIs running', async () => {
    const r = await local.cortex(['delete', 'model', '-y']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await postJson(local.url('/model'), {})).status, 404);
    assert.equal((await postJson(local.url('/canary'), {})).status, 200);
  });
});
