// `cortex serve` as a process: readiness, init failure, crashes, limits, draining, metrics.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { postJson, repoRoot, serve, serveFailure, waitFor } from './helpers/serve.ts';

const fixture = path.join(repoRoot, 'test', 'fixtures', 'lifecycle');

describe('cortex serve lifecycle', { concurrency: false }, () => {
  test('healthz answers while __init__ runs; readyz turns 200 only once every worker is ready', async () => {
    const s = await serve(fixture, { args: ['--api', 'slow-init'], waitForReady: false });
    try {
      const health = await fetch(`${s.url}/healthz`);
      assert.equal(health.status, 200);
      const early = await fetch(`${s.url}/readyz`);
      assert.equal(early.status, 503);
      assert.match(((await early.json()) as { reason: string }).reason, /0 of 1 workers ready/);
      await waitFor('ready', async () => ((await fetch(`${s.url}/readyz`)).status === 200 ? true : undefined));
      const summary = (await (await fetch(`${s.url}/`)).json()) as Record<string, unknown>;
      assert.deepEqual(
        { api: summary.api, type: summary.predictor_type, ready: summary.ready },
        { api: 'slow-init', type: 'python', ready: true },
      );
    } finally {
      await s.stop();
    }
  });

  test(
    'a failing __init__ exits non-zero, ' + 'logs the traceback and writes its last line to the termination log',
    async () => {
      const error = await serveFailure(fixture, { args: ['--api', 'bad-init'] });
      assert.equal(error.code, 1);
      assert.match(error.out, /Traceback/);
      assert.match(error.out, /ValueError: model file not found/);
      assert.equal(
        readFileSync(error.terminationLog, 'utf8'),
        'predictor failed to initialise: ValueError: model file not found: /models/missing.pkl',
      );
    },
  );

  test('each replica has its own TMPDIR, removed when it stops', async () => {
    const project = path.join(repoRoot, 'test', 'fixtures', 'tmpdir');
    const [a, b] = await Promise.all([
      serve(project, { args: ['--api', 'tmp-a'] }),
      serve(project, { args: ['--api', 'tmp-b'] }),
    ]);
    try {
      const answers = (await Promise.all([postJson(a.url, {}), postJson(b.url, {})])).map(
        async (r) => (await r.json()) as { tmpdir: string; env: string; model: string },
      );
      const [fromA, fromB] = await Promise.all(answers);
      assert.deepEqual([fromA.model, fromB.model], ['a', 'b'], 'neither overwrote the other');
      assert.notEqual(fromA.tmpdir, fromB.tmpdir);
      for (const [answer, api] of [
        [fromA, 'tmp-a'],
        [fromB, 'tmp-b'],
      ] as const) {
        assert.equal(answer.env, answer.tmpdir);
        assert.equal(path.dirname(answer.tmpdir), tmpdir());
        assert.match(path.basename(answer.tmpdir), new RegExp(`^cortex-${api}-`));
      }
      await Promise.all([a.stop(), b.stop()]);
      assert.equal(existsSync(fromA.tmpdir), false, 'removed with its replica');
      assert.equal(existsSync(fromB.tmpdir), false, 'removed with its replica');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test("a module Cortex's images pre-installed, missing at import, says which package to add", async () => {
    const error = await serveFailure(path.join(repoRoot, 'test', 'fixtures', 'cortex-preinstalled'));
    assert.equal(error.code, 1);
    assert.equal(
      readFileSync(error.terminationLog, 'utf8'),
      "predictor failed to initialise: ModuleNotFoundError: No module named 'sklearn' (Cortex's images " +
        'pre-installed scikit-learn; here it must be listed: add scikit-learn to requirements.txt)',
    );
  });

  test(
    "a failed pip install stops the replica with pip's reason and leaves no half-built environment",
    { timeout: 180_000 },
    async () => {
      const cache = mkdtempSync(path.join(tmpdir(), 'cortex-cache-'));
      try {
        const error = await serveFailure(path.join(repoRoot, 'test', 'fixtures', 'bad-requirements'), {
          env: { CORTEX_CACHE_DIR: cache },
          timeoutMs: 170_000,
        });
        assert.equal(error.code, 1);
        assert.match(error.out, /pip install -r .*requirements\.txt failed/);
        assert.match(error.out, /cortex-no-such-package-zz9/);
        assert.match(
          readFileSync(error.terminationLog, 'utf8'),
          /^fix the requirement cortex-no-such-package-zz9==0\.0\.1 \(requirements\.txt line 1\): it does not install on .*Python 3\.\d+.*CORTEX_PYTHON/,
        );
        assert.deepEqual(readdirSync(path.join(cache, 'venvs')), [], 'nothing left in the venv cache');
      } finally {
        rmSync(cache, { recursive: true, force: true });
      }
    },
  );

  test('over max_replica_concurrency a request gets 503 with Retry-After at once, and it is counted', async () => {
    const s = await serve(fixture, { args: ['--api', 'sleepy'] });
    try {
      const slow = Array.from({ length: 4 }, () => postJson(s.url, { sleep: 1 }));
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      const refused = await postJson(s.url, { sleep: 0 });
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.ok(Date.now() - started < 500, 'refused immediately, not after queueing');
      const answers = await Promise.all(slow);
      assert.deepEqual(
        answers.map((r) => r.status),
        [200, 200, 200, 200],
      );
      const pids = new Set(await Promise.all(answers.map(async (r) => ((await r.json()) as { pid: number }).pid)));
      assert.equal(pids.size, 2, 'both worker processes served');
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      assert.match(metrics, /cortex_rejected_requests_total\{api="sleepy",reason="over_capacity"\} 1/);
      assert.match(metrics, /cortex_requests_total\{api="sleepy",status_code="200"\} 4/);
    } finally {
      await s.stop();
    }
  });

  test('a second request goes to the idle worker instead of waiting (Cortex #839)', async () => {
    const s = await serve(fixture, { args: ['--api', 'sleepy'] });
    try {
      const long = postJson(s.url, { sleep: 2 });
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      const quick = await postJson(s.url, { sleep: 0 });
      assert.equal(quick.status, 200);
      assert.ok(Date.now() - started < 1000, `quick request took ${Date.now() - started} ms`);
      assert.equal((await long).status, 200);
    } finally {
      await s.stop();
    }
  });

  test('a worker that dies answers its in-flight requests 503, is restarted, and the restart is counted', async () => {
    const s = await serve(fixture, { args: ['--api', 'crashy'] });
    try {
      const before = ((await (await postJson(s.url, { n: 1 })).json()) as { pid: number }).pid;
      const crashed = await postJson(s.url, { crash: true, after: 0.2 });
      assert.equal(crashed.status, 503);
      assert.match(await crashed.text(), /worker exited/);
      const after = await waitFor('a restarted worker', async () => {
        const r = await postJson(s.url, { n: 2 });
        return r.status === 200 ? ((await r.json()) as { pid: number }).pid : undefined;
      });
      assert.notEqual(after, before);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      assert.match(metrics, /cortex_worker_restarts_total\{api="crashy"\} 1/);
    } finally {
      await s.stop();
    }
  });

  test('logs are JSON lines; print() and logging inside predict carry the request id', async () => {
    const s = await serve(fixture, { args: ['--api', 'crashy'] });
    try {
      const r = await postJson(s.url, { n: 42 }, { 'x-request-id': 'req-abc' });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-request-id'), 'req-abc');
      const lines = await waitFor('predictor log lines', () => {
        const found = s.logs().filter((l) => l.request_id === 'req-abc');
        return found.length >= 3 ? found : undefined;
      });
      const messages = lines.map((l) => l.message);
      assert.ok(messages.includes('predicting 42'), JSON.stringify(messages));
      assert.ok(
        messages.some((m) => m === 'debug detail 42'),
        'logging at debug honours log_level: debug',
      );
      const access = lines.find((l) => l.status === 200);
      assert.ok(access !== undefined && typeof access.latency_ms === 'number' && access.api === 'crashy');
    } finally {
      await s.stop();
    }
  });

  test('bodies over --max-body-size get 413 and the server keeps serving', async () => {
    const s = await serve(fixture, { args: ['--api', 'crashy', '--max-body-size', '1Ki'] });
    try {
      const big = await fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ n: 'x'.repeat(5000) }),
      });
      assert.equal(big.status, 413);
      assert.match(await big.text(), /larger than the limit of 1024 bytes/);
      assert.equal((await postJson(s.url, { n: 1 })).status, 200);
    } finally {
      await s.stop();
    }
  });

  test('a stalled client times out without holding a worker; malformed HTTP gets 400', async () => {
    const s = await serve(fixture, { args: ['--api', 'crashy', '--request-timeout', '1'] });
    try {
      const stalled = net.connect(s.port, '127.0.0.1');
      stalled.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"n":');
      let stalledReply = '';
      stalled.on('data', (c) => (stalledReply += c));
      const closed = new Promise((r) => stalled.on('close', r));
      // Meanwhile the only worker is free for others.
      assert.equal((await postJson(s.url, { n: 1 })).status, 200);
      await closed;
      assert.match(stalledReply, /408/);

      const garbage = net.connect(s.port, '127.0.0.1');
      garbage.write('NOT HTTP AT ALL\r\n\r\n');
      let reply = '';
      garbage.on('data', (c) => (reply += c));
      await new Promise((r) => garbage.on('close', r));
      assert.match(reply, /400 Bad Request/);
      assert.equal((await postJson(s.url, { n: 2 })).status, 200);
    } finally {
      await s.stop();
    }
  });

  test('SIGTERM: readiness fails, new connections are refused, in-flight requests finish, exit 0', async () => {
    const s = await serve(fixture, { args: ['--api', 'sleepy'] });
    const inFlight = postJson(s.url, { sleep: 1.5 });
    await new Promise((r) => setTimeout(r, 300));
    s.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    await assert.rejects(fetch(`${s.url}/readyz`), 'new connections are refused while draining');
    const answer = await inFlight;
    assert.equal(answer.status, 200);
    const exit = await s.exited;
    assert.equal(exit.code, 0);
    assert.ok(s.logs().some((l) => l.message === 'stopped'));
  });

  test('a bad cortex.yaml stops serve before anything starts, naming the file and field', async () => {
    const error = await serveFailure(path.join(fixture, 'missing-dir'));
    assert.equal(error.code, 2);
    assert.match(error.err, /missing-dir/);
  });

  test('an unknown --api lists the APIs there are', async () => {
    const error = await serveFailure(fixture, { args: ['--api', 'nope'] });
    assert.equal(error.code, 2);
    assert.match(error.err, /no API named "nope".*slow-init, bad-init, sleepy, crashy/);
  });
});
