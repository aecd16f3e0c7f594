// Fault injection against `cortex serve` (docs/reliability.md, "Runtime"): real serve processes
// and real Python workers on loopback. Each test prints the figures the documentation quotes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { cortexBin, repoRoot, serve, testEnv, waitFor, type Served } from '../helpers/serve.ts';

const fixture = path.join(repoRoot, 'test', 'faults', 'fixtures', 'runtime-predictor');
const scratch = mkdtempSync(path.join(tmpdir(), 'cortex-faults-runtime-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

interface Answer {
  status: number;
  body: string;
  ms: number;
}

/** POSTs JSON; a client-side timeout or a dropped connection is status 0 with the error as body. */
async function post(url: string, value: unknown, timeoutMs: number): Promise<Answer> {
  const t0 = performance.now();
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(value),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, body: await res.text(), ms: performance.now() - t0 };
  } catch (error) {
    return { status: 0, body: String((error as Error).cause ?? error), ms: performance.now() - t0 };
  }
}

function workerPids(s: Served): number[] {
  const pids: number[] = [];
  for (const line of s.logs()) {
    const m = /^worker (\d+) ready$/.exec(String(line.message));
    if (m !== null) pids[Number(m[1])] = Number(line.pid);
  }
  return pids;
}

/** Sends raw bytes and returns everything the server wrote before it closed the connection. */
function raw(port: number, request: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (got += c));
    socket.on('error', () => resolve(got));
    socket.on('close', () => resolve(got));
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error(`no close within 5 s; got ${JSON.stringify(got)}`));
    });
    socket.write(request);
  });
}

function parseRaw(text: string): { status: number; headers: string; body: string } {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head, body: text.slice(end + 4) };
}

describe('runtime faults', { concurrency: false }, () => {
  test('kill -9 of one of two workers fails only the requests in flight on it, not the queue', async () => {
    const s = await serve(fixture, { args: ['--api', 'two', '--predict-timeout', '30'] });
    try {
      const pids = workerPids(s);
      assert.equal(pids.length, 2, 'both workers logged their pid');
      const clients = 64;
      const answers = Array.from({ length: clients }, () => post(s.url, { sleep: 0.1 }, 30_000));
      await sleep(300); // both workers busy, the rest queued
      process.kill(pids[0], 'SIGKILL');
      const results = await Promise.all(answers);
      const failed = results.filter((r) => r.status !== 200);
      const onDead = failed.filter((r) => r.status === 503 && r.body.includes('worker exited (signal SIGKILL)'));
      console.log(
        `kill -9 of 1 of 2 workers (1 thread each), ${clients} clients: ${failed.length} failed ` +
          `(only the ${onDead.length} in flight on it)`,
      );
      assert.deepEqual(
        failed.map((r) => r.status),
        onDead.map(() => 503),
        'every failure is a request the dead worker held',
      );
      assert.ok(onDead.length <= 1, `at most threads_per_process (1) requests were on the dead worker`);
      await waitFor('the killed worker restarted', () => (workerPids(s)[0] !== pids[0] ? true : undefined));
      assert.equal((await post(s.url, {}, 5000)).status, 200);
    } finally {
      await s.stop();
    }
  });

  test('a hung predict: 504 at the timeout, abandoned requests never run, the worker is replaced', async () => {
    const state = mkdtempSync(path.join(scratch, 'state-'));
    const s = await serve(fixture, {
      args: ['--api', 'one', '--request-timeout', '5', '--predict-timeout', '3'],
      env: { FAULT_STATE_DIR: state, FAULT_WORKERS: '1', FAULT_RESTART_INIT: '1.5' },
    });
    try {
      const [pid] = workerPids(s);
      const hung = post(s.url, { sleep: 120 }, 10_000);
      await sleep(100);
      const queued = post(s.url, {}, 10_000);
      const abandoned = Array.from({ length: 20 }, (_, i) => path.join(state, `abandoned-${i}`));
      const gone = await Promise.all(abandoned.map((touch) => post(s.url, { touch }, 500)));
      assert.ok(
        gone.every((r) => r.status === 0),
        'the abandoning clients gave up before an answer',
      );
      const [h, q] = await Promise.all([hung, queued]);
      assert.equal(h.status, 504, `hung predict answered ${h.status} ${h.body}`);
      assert.match(h.body, /"error":".*--predict-timeout/);
      assert.ok(h.ms >= 2900 && h.ms < 4500, `504 after ${Math.round(h.ms)} ms (timeout 3 s)`);
      assert.equal(q.status, 504, `the request queued behind it answered ${q.status} ${q.body}`);
      // The stuck worker is being replaced (its successor's __init__ takes 1.5 s): no usable slot.
      const notReady = await waitFor(
        'readyz 503 while no worker slot is usable',
        async () => {
          const r = await fetch(`${s.url}/readyz`);
          return r.status === 503 ? await r.text() : undefined;
        },
        1500,
      );
      const t0 = performance.now();
      await waitFor('readyz 200 once replaced', async () =>
        (await fetch(`${s.url}/readyz`)).status === 200 ? true : undefined,
      );
      const replacedMs = performance.now() - t0;
      const after = await post(s.url, {}, 5000);
      assert.equal(after.status, 200);
      const newPid = (JSON.parse(after.body) as { pid: number }).pid;
      assert.notEqual(newPid, pid, 'a new worker process answers');
      const ran = abandoned.filter((f) => existsSync(f)).length;
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      const inFlight = Number(/^cortex_in_flight_requests\{[^}]*\} (\S+)$/m.exec(metrics)?.[1]);
      console.log(
        `hung predict, --predict-timeout 3: 504 after ${(h.ms / 1000).toFixed(2)} s, queued request 504 after ` +
          `${(q.ms / 1000).toFixed(2)} s; ${abandoned.length} abandoned requests: ${ran} ran; /readyz 503 ` +
          `(${notReady}) then 200 ${Math.round(replacedMs)} ms later; in flight afterwards: ${inFlight}`,
      );
      assert.equal(ran, 0, 'requests whose client went away never ran');
      assert.equal(inFlight, 0, 'nothing left counted in flight');
    } finally {
      await s.stop();
    }
  });

  test('grace period expiry: requests still running get the documented 503, not a closed connection', async () => {
    const s = await serve(fixture, { args: ['--api', 'two', '--grace-period', '2', '--predict-timeout', '60'] });
    try {
      const answers = Array.from({ length: 3 }, () => post(s.url, { sleep: 120 }, 15_000));
      await sleep(500);
      const t0 = performance.now();
      s.proc.kill('SIGTERM');
      const results = await Promise.all(answers);
      const ms = performance.now() - t0;
      const exit = await s.exited;
      console.log(
        `SIGTERM, --grace-period 2, 3 hung requests: ${results.map((r) => r.status || 'closed').join(', ')} ` +
          `after ${(ms / 1000).toFixed(2)} s; exit ${exit.code}`,
      );
      for (const r of results) {
        assert.equal(r.status, 503, `answered ${r.status} ${r.body}`);
        assert.match(r.body, /shut down before the request was served/);
      }
      assert.equal(exit.code, 0);
    } finally {
      await s.stop();
    }
  });

  test('malformed HTTP and CONNECT get a JSON error; a NaN result is a 500, not invalid JSON', async () => {
    const s = await serve(fixture, { args: ['--api', 'one'] });
    try {
      const cases: [string, string | Buffer, number][] = [
        [
          'bad chunking',
          'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
          400,
        ],
        [
          'Content-Length and chunked',
          'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
          400,
        ],
        [
          '2,000 headers',
          'GET /healthz HTTP/1.1\r\nHost: x\r\n' +
            Array.from({ length: 2000 }, (_, i) => `X-H${i}: v\r\n`).join('') +
            '\r\n',
          431,
        ],
        ['NUL in the path', Buffer.from('GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'), 400],
        ['CONNECT', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 405],
      ];
      const seen: string[] = [];
      for (const [what, request, status] of cases) {
        const answer = parseRaw(await raw(s.port, request));
        seen.push(`${what}: ${answer.status}`);
        assert.equal(answer.status, status, `${what}: ${JSON.stringify(answer)}`);
        assert.match(answer.headers, /content-type: application\/json/i, what);
        const body = JSON.parse(answer.body) as { error?: unknown };
        assert.equal(typeof body.error, 'string', `${what}: ${answer.body}`);
      }
      const nan = await post(s.url, { nan: true }, 5000);
      seen.push(`NaN result: ${nan.status}`);
      console.log(`bad input: ${seen.join('; ')}`);
      assert.equal(nan.status, 500, nan.body);
      assert.match((JSON.parse(nan.body) as { error: string }).error, /cannot be sent as a response/);
      assert.equal((await post(s.url, {}, 5000)).status, 200, 'the replica carries on');
    } finally {
      await s.stop();
    }
  });

  test('a bad --port exits 2 and a port in use exits 1, each with one line and no stack trace', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const proc = spawn(process.execPath, [cortexBin, 'serve', fixture, '--api', 'one', ...args], {
          cwd: repoRoot,
          env: testEnv(),
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
        const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
        proc.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, stderr });
        });
      });
    const bad = await run(['--port', '99999']);
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as net.AddressInfo).port;
    const inUse = await run(['--host', '127.0.0.1', '--port', String(port)]);
    busy.close();
    console.log(`--port 99999: exit ${bad.code}, ${JSON.stringify(bad.stderr.trim())}`);
    console.log(`port in use: exit ${inUse.code}, ${JSON.stringify(inUse.stderr.trim())}`);
    assert.equal(bad.code, 2);
    assert.equal(inUse.code, 1);
    for (const { stderr } of [bad, inUse]) {
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
      assert.doesNotMatch(stderr, /\n\s+at /);
    }
    assert.match(bad.stderr, /--port/);
    assert.match(inUse.stderr, /already in use/);
  });
});
