// WebSockets end to end (docs/websockets.md): real `cortex serve` processes, real Python
// workers, real sockets with the `ws` client. Fixture: test/fixtures/websocket.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { postJson, repoRoot, serve, type Served } from './helpers/serve.ts';
import { connect, refused } from './helpers/ws-client.ts';

const fixture = path.join(repoRoot, 'test', 'fixtures', 'websocket');
const wsUrl = (s: Served, query = '') => `ws://127.0.0.1:${s.port}/${query}`;
const metric = async (s: Served, name: string) => {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  return Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
};
const until = async (what: string, check: () => Promise<boolean>, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe('websockets: an async Python handler', { concurrency: false }, () => {
  let s: Served;
  before(async () => {
    s = await serve(fixture, { args: ['--api', 'ws-async'] });
  });
  after(() => s?.stop());

  test('echo: text comes back as text, on / and on /predict, with the subprotocol the handler chose', async () => {
    const c = await connect(wsUrl(s, '?mode=echo'), {}, ['chat.v1', 'chat.v0']);
    assert.equal(c.ws.protocol, 'chat.v1');
    for (const text of ['hello', '', 'ünïcode ✓', 'x'.repeat(100_000)]) {
      c.ws.send(text);
      assert.equal(await c.next(), text);
    }
    c.ws.close(1000);
    assert.equal((await c.closed).code, 1000);
    const p = await connect(`ws://127.0.0.1:${s.port}/predict?mode=echo`);
    p.ws.send('again');
    assert.equal(await p.next(), 'again');
    p.ws.close();
  });

  test('bytes and JSON: binary frames stay binary; query params and headers reach the handler', async () => {
    const b = await connect(wsUrl(s, '?mode=bytes'));
    b.ws.send(Buffer.from([1, 2, 3, 255]));
    assert.deepEqual(await b.next(), Buffer.from([255, 3, 2, 1]));
    b.ws.close();
    const j = await connect(wsUrl(s, '?mode=json&user=ada'), { headers: { 'X-Agent': 'test/1' } });
    j.ws.send(JSON.stringify({ a: [1, 2] }));
    assert.deepEqual(JSON.parse(String(await j.next())), {
      got: { a: [1, 2] },
      query: { mode: 'json', user: 'ada' },
      agent: 'test/1',
      key: null,
    });
    j.ws.close();
  });

  test('the client leaving raises WebSocketDisconnect in the handler, with its close code', async () => {
    const c = await connect(wsUrl(s, '?mode=echo'));
    c.ws.send('hi');
    await c.next();
    c.ws.close(4321, 'leaving');
    await c.closed;
    const dropped = await connect(wsUrl(s, '?mode=echo'));
    dropped.ws.terminate(); // no close frame: 1006
    await until('both disconnects seen by the handler', async () => {
      const { disconnects } = (await (await postJson(s.url, {})).json()) as { disconnects: number[] };
      return disconnects.includes(4321) && disconnects.includes(1006);
    });
  });

  test('close codes: 4000 from the handler, 1011 on its error; 403 for a refusal, 500 for an early error', async () => {
    const c = await connect(wsUrl(s, '?mode=close'));
    assert.equal(await c.next(), 'bye');
    assert.deepEqual(await c.closed, { code: 4000, reason: 'done' });
    const f = await connect(wsUrl(s, '?mode=fail'));
    f.ws.send('boom');
    assert.equal((await f.closed).code, 1011);
    await until('the traceback logged', async () =>
      s.logs().some((l) => l.level === 'error' && /RuntimeError: handler failed/.test(String(l.message))),
    );
    assert.equal((await refused(wsUrl(s, '?mode=refuse'))).status, 403);
    const early = await refused(wsUrl(s, '?mode=fail-early'));
    assert.equal(early.status, 500);
    const other = await refused(`ws://127.0.0.1:${s.port}/elsewhere`);
    assert.equal(other.status, 404);
    assert.match(other.body, /WebSockets connect to \/ or \/predict/);
  });

  test('each open socket counts as in flight (and in cortex_open_websockets) until it closes', async () => {
    assert.equal(await metric(s, 'cortex_in_flight_requests'), 0);
    const a = await connect(wsUrl(s, '?mode=hold'));
    const b = await connect(wsUrl(s, '?mode=hold'));
    await Promise.all([a.next(), b.next()]);
    assert.equal(await metric(s, 'cortex_in_flight_requests'), 2);
    assert.equal(await metric(s, 'cortex_open_websockets'), 2);
    a.ws.close();
    b.ws.close();
    await Promise.all([a.closed, b.closed]);
    await until('the gauge back to 0', async () => (await metric(s, 'cortex_in_flight_requests')) === 0);
  });

  test('a client that stops reading is closed with 1008 once 16 MiB wait for it; the handler hears of it', async () => {
    const c = await connect(wsUrl(s, '?mode=firehose'));
    c.ws.pause(); // reads nothing more
    await until(
      'the handler saw 1008',
      async () => {
        const { disconnects } = (await (await postJson(s.url, {})).json()) as { disconnects: number[] };
        return disconnects.includes(1008);
      },
      20_000,
    );
    c.ws.terminate();
  });

  test('a worker that dies closes its sockets with 1011; the replica goes on serving sockets', async () => {
    const c = await connect(wsUrl(s, '?mode=pid'));
    const pid = Number(await c.next());
    process.kill(pid, 'SIGKILL');
    assert.equal((await c.closed).code, 1011);
    await until(
      'a new socket works',
      async () => {
        try {
          const again = await connect(wsUrl(s, '?mode=echo'));
          again.ws.send('back');
          const ok = (await again.next()) === 'back';
          again.ws.close();
          return ok;
        } catch {
          return false; // 503 while the worker restarts
        }
      },
      20_000,
    );
  });

  test('flow control: a flood at a handler that does not read waits at the client; nothing lost', async () => {
    const n = 2000;
    const size = 16 * 1024; // 32 MiB in all
    const c = await connect(wsUrl(s, `?mode=slow-reader&sleep=2&n=${n}`));
    assert.equal(await c.next(), 'ready');
    const rssBefore = rssMiB(s);
    const chunk = Buffer.alloc(size, 7);
    for (let i = 0; i < n; i++) c.ws.send(chunk);
    await new Promise((r) => setTimeout(r, 1000));
    // the front took at most the credit (64 messages) and what the kernel buffers; the rest waits at the client
    assert.ok(c.ws.bufferedAmount > 8 * 1024 * 1024, `client still holds ${c.ws.bufferedAmount} bytes`);
    assert.ok(rssMiB(s) - rssBefore < 24, `front grew ${rssMiB(s) - rssBefore} MiB`);
    assert.equal(await c.next(), String(n), 'every message arrived once the handler read');
    c.ws.close();
  });
});

describe('websockets: a blocking handler and draining', { concurrency: false }, () => {
  test('sync handler: a thread per socket, so open sockets never starve predict (threads: 1)', async () => {
    const s = await serve(fixture, { args: ['--api', 'ws-sync'] });
    try {
      const clients = await Promise.all([1, 2, 3].map(() => connect(wsUrl(s))));
      for (const [i, c] of clients.entries()) c.ws.send(JSON.stringify(i));
      for (const [i, c] of clients.entries()) assert.deepEqual(JSON.parse(String(await c.next())), { echo: i });
      const r = await postJson(s.url, {});
      assert.deepEqual(await r.json(), { ok: true });
      for (const c of clients) c.ws.close();
      const it = await connect(wsUrl(s, '?mode=iter'));
      it.ws.send('"x"');
      assert.deepEqual(JSON.parse(String(await it.next())), { echo: 'x' });
      it.ws.close(1000);
      assert.equal((await it.closed).code, 1000);
    } finally {
      await s.stop();
    }
  });

  test('a handler that neither accepts nor refuses: 504 after --request-timeout', async () => {
    const s = await serve(fixture, { args: ['--api', 'ws-async', '--request-timeout', '1'] });
    try {
      const started = Date.now();
      const late = await refused(wsUrl(s, '?mode=never-accept'));
      assert.equal(late.status, 504);
      assert.match(late.body, /did not accept within 1000 ms/);
      assert.ok(Date.now() - started >= 900);
      assert.equal(await metric(s, 'cortex_open_websockets'), 0);
    } finally {
      await s.stop();
    }
  });

  test('SIGTERM: open sockets keep working through the grace period, then close with 1001', async () => {
    const s = await serve(fixture, { args: ['--api', 'ws-async', '--grace-period', '2'] });
    const c = await connect(wsUrl(s, '?mode=echo'));
    const started = Date.now();
    s.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300)); // draining by now
    c.ws.send('still here');
    assert.equal(await c.next(), 'still here');
    const closed = await c.closed;
    assert.deepEqual(closed, { code: 1001, reason: 'server shutting down' });
    assert.ok(Date.now() - started >= 1500, 'closed only after the grace period');
    await s.exited;
  });
});

describe('websockets: the TypeScript twin', { concurrency: false }, () => {
  let s: Served;
  before(async () => {
    s = await serve(fixture, { args: ['--api', 'ws-typescript'] });
  });
  after(() => s?.stop());

  test('echo (text and binary), JSON with query and headers, close codes, refusal', async () => {
    const c = await connect(wsUrl(s, '?mode=echo'));
    c.ws.send('hello');
    assert.equal(await c.next(), 'hello');
    c.ws.send(Buffer.from([1, 2, 3]));
    assert.deepEqual(await c.next(), Buffer.from([3, 2, 1]));
    c.ws.close(4321);
    await c.closed;
    await until('the handler saw the disconnect', async () => {
      const { disconnects } = (await (await postJson(s.url, {})).json()) as { disconnects: number[] };
      return disconnects.includes(4321);
    });
    const j = await connect(wsUrl(s, '?mode=json&user=ada'), { headers: { 'X-Agent': 'ts/1' } });
    j.ws.send('[1,2]');
    assert.deepEqual(JSON.parse(String(await j.next())), {
      got: [1, 2],
      query: { mode: 'json', user: 'ada' },
      agent: 'ts/1',
    });
    assert.deepEqual(await j.closed, { code: 4000, reason: 'done' });
    const f = await connect(wsUrl(s, '?mode=fail'));
    f.ws.send('boom');
    assert.equal((await f.closed).code, 1011);
    assert.equal((await refused(wsUrl(s, '?mode=refuse'))).status, 403);
  });

  test('flow control: a flood waits at the client until the handler reads; nothing lost', async () => {
    const n = 2000;
    const c = await connect(wsUrl(s, `?mode=slow-reader&n=${n}`));
    assert.equal(await c.next(), 'ready');
    const chunk = Buffer.alloc(16 * 1024, 1);
    for (let i = 0; i < n; i++) c.ws.send(chunk);
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(c.ws.bufferedAmount > 8 * 1024 * 1024, `client still holds ${c.ws.bufferedAmount} bytes`);
    assert.equal(await c.next(), String(n));
    c.ws.close();
  });
});

test('examples/websocket-tokens: the same prompt token by token over a socket, in one piece over HTTP', async () => {
  const s = await serve(path.join(repoRoot, 'examples', 'websocket-tokens'));
  try {
    const sample = JSON.parse(readFileSync(path.join(repoRoot, 'examples', 'websocket-tokens', 'sample.json'), 'utf8'));
    assert.deepEqual(await (await postJson(s.url, sample)).json(), { text: 'you said: hello there' });
    const c = await connect(wsUrl(s));
    c.ws.send(JSON.stringify(sample));
    const tokens: string[] = [];
    for (;;) {
      const m = JSON.parse(String(await c.next())) as { token?: string; done?: boolean };
      if (m.done) break;
      tokens.push(m.token!);
    }
    assert.deepEqual(tokens, ['you', 'said:', 'hello', 'there']);
    c.ws.close();
  } finally {
    await s.stop();
  }
});

function rssMiB(s: Served): number {
  const status = readFileSync(`/proc/${s.proc.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}
