// The local environment serving several APIs on one port: a cortex.yaml written for Cortex
// 0.25 deploys unchanged, min_replicas > 1 runs that many replicas behind the port, each API
// answers at its endpoint only.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { localEnv, type LocalEnv } from './helpers/local.ts';
import { postJson, repoRoot } from './helpers/serve.ts';

const fixture = (name: string) => path.join(repoRoot, 'test', 'fixtures', 'local', name);

describe('local environment: several APIs, Cortex 0.25 files, several replicas', { concurrency: false }, () => {
  let local: LocalEnv;
  before(async () => {
    local = await localEnv();
  });
  after(async () => {
    await local?.cleanup();
  });

  test('a cortex.yaml written for Cortex 0.25 deploys unchanged (ignored fields are named in a warning)', async () => {
    const r = await local.cortex(['deploy', fixture('cortex-025')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /warning: .*cortex\.yaml:11:3: api "iris-025": monitoring: ignored: monitoring was removed in Cortex 0\.25/,
    );
    const answer = await postJson(local.url('/iris-025'), { petal_length: 1.4 });
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), {
      model: 's3://cortex-examples/sklearn/iris-classifier/model.pkl',
      petal_length: 1.4,
    });
  });

  test('min_replicas: 2 runs two replicas behind the port, and requests go to both', async () => {
    const r = await local.cortex(['deploy', fixture('whoami'), '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const [result] = JSON.parse(r.stdout) as { api: string; action: string; url: string }[];
    assert.deepEqual(result, {
      api: 'whoami',
      action: 'created',
      endpoint: '/whoami',
      url: `http://localhost:${local.port}/whoami`,
    });
    const get = JSON.parse((await local.cortex(['get', 'whoami', '-o', 'json'])).stdout) as {
      ready: number;
      requested: number;
      replicas: { pid: number }[];
    };
    assert.equal(`${get.ready}/${get.requested}`, '2/2');
    // Two slow requests at once: the least busy replica takes the second.
    const answers = await Promise.all([
      postJson(local.url('/whoami'), { sleep: 0.5 }),
      postJson(local.url('/whoami'), { sleep: 0.5 }),
    ]);
    const replicas = new Set(
      await Promise.all(answers.map(async (a) => ((await a.json()) as { replica: number }).replica)),
    );
    assert.deepEqual([...replicas].sort(), get.replicas.map((x) => x.pid).sort());
    const logs = await local.cortex(['logs', 'whoami']);
    assert.match(
      logs.stdout,
      /^\[whoami-[0-9a-f]{5}\] \{/m,
      'lines are prefixed with their replica when there are several',
    );
  });

  test('each API answers at its endpoint; other paths get a 404 naming the endpoints', async () => {
    const ts = await local.cortex(['deploy', path.join(repoRoot, 'examples', 'typescript-sentiment')]);
    assert.equal(ts.code, 0, ts.stderr);
    const sentiment = await postJson(local.url('/typescript-sentiment/predict'), { text: 'I love it, great and fast' });
    assert.equal(sentiment.status, 200);
    assert.equal(((await sentiment.json()) as { label: string }).label, 'POSITIVE');
    const unknown = await postJson(local.url('/nope'), {});
    assert.equal(unknown.status, 404);
    assert.equal(
      ((await unknown.json()) as { error: string }).error,
      'no API at /nope; endpoints: /iris-025, /typescript-sentiment, /whoami',
    );
    const list = await local.cortex(['get', '-o', 'json']);
    assert.deepEqual(
      (JSON.parse(list.stdout) as { name: string; status: string }[]).map((a) => [a.name, a.status]),
      [
        ['iris-025', 'live'],
        ['typescript-sentiment', 'live'],
        ['whoami', 'live'],
      ],
    );
  });

  test('refresh restarts an API with new replicas, the old ones drain', async () => {
    const before = JSON.parse((await local.cortex(['get', 'iris-025', '-o', 'json'])).stdout) as {
      replicas: { pid: number }[];
    };
    const r = await local.cortex(['refresh', 'iris-025']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /refreshed iris-025/);
    const after = JSON.parse((await local.cortex(['get', 'iris-025', '-o', 'json'])).stdout) as {
      status: string;
      replicas: { pid: number; role: string }[];
    };
    assert.equal(after.status, 'live');
    const current = after.replicas.filter((x) => x.role === 'current');
    assert.equal(current.length, 1);
    assert.notEqual(current[0].pid, before.replicas[0].pid);
  });

  test('an API claiming an endpoint another API serves is refused; the other one keeps it', async () => {
    const project = mkdtempSync(path.join(tmpdir(), 'cortex-project-'));
    try {
      cpSync(fixture('whoami'), project, { recursive: true });
      writeFileSync(
        path.join(project, 'cortex.yaml'),
        '- name: impostor\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n' +
          '  networking:\n    endpoint: /whoami\n',
      );
      const r = await local.cortex(['deploy', project]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /impostor was not deployed: endpoint \/whoami is already used by API whoami/);
      const list = JSON.parse((await local.cortex(['get', '-o', 'json'])).stdout) as { name: string }[];
      assert.ok(!list.some((a) => a.name === 'impostor'));
      assert.equal((await postJson(local.url('/whoami'), {})).status, 200);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
