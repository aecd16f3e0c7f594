// The local environment keeps APIs up: a crashed replica is restarted with backoff (and `get`
// says why it is down meanwhile), a killed supervisor is replaced (by its watchdog, or the next
// command) and takes over the APIs' replicas, and an API whose first version fails is shown as such.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { alive, localEnv, processesMentioning, type LocalEnv } from './helpers/local.ts';
import { postJson, repoRoot, waitFor } from './helpers/serve.ts';

interface ApiJson {
  status: string;
  reason?: string;
  ready: number;
  restarts: number;
  replicas: { id: string; pid?: number; state: string; restarts: number; error?: string; lastExit?: string }[];
}

describe('local environment: recovery', { concurrency: false }, () => {
  let local: LocalEnv;
  let project: string;
  let flag: string;
  const getApi = async (name: string) =>
    JSON.parse((await local.cortex(['get', name, '-o', 'json'])).stdout) as ApiJson;

  before(async () => {
    local = await localEnv();
    project = mkdtempSync(path.join(tmpdir(), 'cortex-project-'));
    cpSync(path.join(repoRoot, 'test', 'fixtures', 'local', 'crashy'), project, { recursive: true });
    flag = path.join(project, '..', `${path.basename(project)}.flag`);
    writeFileSync(
      path.join(project, 'cortex.yaml'),
      [
        '- name: crashy',
        '  kind: RealtimeAPI',
        '  predictor:',
        '    type: python',
        '    path: predictor.py',
        '    config:',
        `      flag_file: ${flag}`,
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await local?.cleanup();
    rmSync(project, { recursive: true, force: true });
    rmSync(flag, { force: true });
  });

  test(
    'requests that arrive while the only replica restarts are held, then answered',
    { timeout: 60_000 },
    async () => {
      const r = await local.cortex(['deploy', project]);
      assert.equal(r.code, 0, r.stderr);
      const pid = (await getApi('crashy')).replicas[0].pid!;
      process.kill(pid, 'SIGKILL');
      const started = Date.now();
      const answer = await postJson(local.url('/crashy'), {});
      assert.equal(answer.status, 200, await answer.clone().text());
      assert.notEqual(((await answer.json()) as { replica: number }).replica, pid);
      assert.ok(Date.now() - started < 10_000);
    },
  );

  test(
    'a crashed replica is restarted with backoff; meanwhile get shows the error, its reason and the restarts',
    { timeout: 120_000 },
    async () => {
      const first = ((await (await postJson(local.url('/crashy'), {})).json()) as { replica: number }).replica;
      // While the flag file exists the predictor refuses to start: the restarts fail.
      writeFileSync(flag, '');
      // The crash resets the connection: the gateway tries once more (a kept-alive connection
      // may just have been closed), finds no ready replica, holds the request, then gives up.
      const crashed = await postJson(local.url('/crashy'), { crash: true });
      assert.ok(crashed.status === 502 || crashed.status === 503, String(crashed.status));
      try {
        const down = await waitFor(
          'crashy to show its failing restarts',
          async () => {
            const api = await getApi('crashy');
            return api.status === 'error' && api.restarts >= 1 && /refusing/.test(api.reason ?? '') ? api : undefined;
          },
          30_000,
        );
        assert.equal(down.reason, `predictor failed to initialise: ValueError: refusing to start while ${flag} exists`);
        assert.equal(down.ready, 0);
        const table = await local.cortex(['get']);
        assert.match(table.stdout, /^crashy\s+error\s+0\/1/m);
        assert.match(
          table.stdout,
          new RegExp(
            'crashy: error: predictor failed to initialise: ' +
              `ValueError: refusing to start while .* \\(restarted \\d+ times?\\)`,
          ),
        );
      } finally {
        // Fixed: the next restart succeeds and the API serves again, the restarts still counted.
        rmSync(flag, { force: true });
      }
      const back = await waitFor(
        'crashy to be live again',
        async () => {
          const api = await getApi('crashy');
          return api.status === 'live' ? api : undefined;
        },
        60_000,
      );
      assert.ok(back.restarts >= 1);
      assert.match(back.replicas[0].lastExit ?? '', /refusing to start/);
      const again = ((await (await postJson(local.url('/crashy'), {})).json()) as { replica: number }).replica;
      assert.notEqual(again, first);
      assert.ok(!alive(first));
    },
  );

  test(
    'a killed supervisor is replaced, and the replacement takes over the running replicas',
    { timeout: 60_000 },
    async () => {
      const supervisor = local.supervisorPid()!;
      const replica = (await getApi('crashy')).replicas[0].pid!;
      process.kill(supervisor, 'SIGKILL');
      await waitFor('the supervisor to die', () => (alive(supervisor) ? undefined : true));
      // A new shell (a fresh process, the same CORTEX_HOME) sees the same API.
      const api = await waitFor(
        'crashy to be live again',
        async () => {
          const status = await getApi('crashy');
          return status.status === 'live' ? status : undefined;
        },
        30_000,
      );
      assert.notEqual(local.supervisorPid(), supervisor);
      // The replica kept serving: the new supervisor took it over instead of restarting it.
      assert.equal(api.replicas[0].pid, replica);
      assert.equal((await postJson(local.url('/crashy'), {})).status, 200);
    },
  );

  test(
    'an API whose first version fails is shown in error with the reason, and can be deleted',
    { timeout: 60_000 },
    async () => {
      const bad = mkdtempSync(path.join(tmpdir(), 'cortex-project-'));
      try {
        cpSync(
          path.join(repoRoot, 'test', 'fixtures', 'local', 'broken', 'init_error.py'),
          path.join(bad, 'predictor.py'),
        );
        writeFileSync(
          path.join(bad, 'cortex.yaml'),
          '- name: never-ready\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n',
        );
        const r = await local.cortex(['deploy', bad]);
        assert.equal(r.code, 1);
        assert.match(r.stdout, /^creating never-ready$/m);
        assert.match(
          r.stderr,
          /never-ready was not deployed: predictor failed to initialise: ValueError: model file not found/,
        );
        assert.doesNotMatch(r.stderr, /keeps serving/);
        const api = await getApi('never-ready');
        assert.equal(api.status, 'error');
        assert.match(api.reason ?? '', /ValueError: model file not found/);
        const deleted = await local.cortex(['delete', 'never-ready', '-y']);
        assert.equal(deleted.code, 0, deleted.stderr);
      } finally {
        rmSync(bad, { recursive: true, force: true });
      }
    },
  );

  test('delete of the last API leaves no process behind', { timeout: 60_000 }, async () => {
    const supervisor = local.supervisorPid()!;
    const r = await local.cortex(['delete', 'crashy', '-y']);
    assert.equal(r.code, 0, r.stderr);
    await waitFor('the supervisor to exit', () => (alive(supervisor) ? undefined : true), 15_000);
    assert.deepEqual(await processesMentioning(local.home), []);
    assert.ok(!existsSync(path.join(local.home, 'supervisor.pid')));
  });
});
