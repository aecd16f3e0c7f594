// A generator predictor in the local environment, end to end: `cortex deploy`, then streams read
// through the gateway (the supervisor's process) from the replica's `cortex serve` and its Python
// worker. Events arrive one by one as yielded, through the gateway and through `cortex predict`; a
// client that reads one byte a second keeps the generator held back and the memory of every
// process on the path flat; a client that leaves stops the generator (GeneratorExit).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { localEnv, type LocalEnv } from './helpers/local.ts';
import { cortexBin, repoRoot, waitFor } from './helpers/serve.ts';

const PROJECT = path.join(repoRoot, 'test', 'fixtures', 'streaming-hops');

/** Resident memory (bytes) of `root` and all its descendants, from /proc. */
function treeRss(root: number): number {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const inTree = (pid: number): boolean => pid === root || (pid > 1 && inTree(parent.get(pid) ?? 0));
  let total = 0;
  for (const pid of parent.keys()) {
    if (!inTree(pid)) continue;
    try {
      const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      total += Number(kb ?? 0) * 1024;
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

describe('streams from a generator predictor through the local gateway', { concurrency: false }, () => {
  let local: LocalEnv;
  let scratch: string;
  before(async () => {
    local = await localEnv();
    scratch = mkdtempSync(path.join(tmpdir(), 'cortex-streaming-hops-'));
    const r = await local.cortex(['deploy', PROJECT]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await local?.cleanup();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  test('each event arrives through the gateway as it is yielded, not at the end', async () => {
    const arrivals: number[] = [];
    const body = JSON.stringify({ mode: 'ticks', n: 5, delay: 0.3 });
    const read = await new Promise<{ status: number; type?: string; text: string }>((resolve, reject) => {
      fetch(local.url('/tokens'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body,
      }).then(async (res) => {
        let text = '';
        for await (const chunk of res.body!) {
          const s = Buffer.from(chunk).toString();
          for (let i = 0; i < s.split('\n\n').length - 1; i++) arrivals.push(Date.now());
          text += s;
        }
        resolve({ status: res.status, type: res.headers.get('content-type') ?? undefined, text });
      }, reject);
    });
    assert.equal(read.status, 200);
    assert.equal(read.type, 'text/event-stream');
    assert.equal(read.text.match(/^data: \{"tick":\d\}$/gm)?.length, 5, read.text);
    assert.equal(arrivals.length, 5);
    // yielded 0.3 s apart: buffered, all five would arrive together at the end
    for (let i = 1; i < 5; i++) assert.ok(arrivals[i] - arrivals[i - 1] >= 150, `gaps: ${arrivals.join(' ')}`);
  });

  test('cortex predict prints each JSON line as it arrives', async () => {
    const child = spawn(process.execPath, [cortexBin, 'predict', 'tokens', '-'], {
      env: { ...process.env, ...local.env, NODE_TEST_CONTEXT: undefined },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end(JSON.stringify({ mode: 'ticks', n: 4, delay: 0.4 }));
    const lines: { text: string; at: number }[] = [];
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      for (const line of c.toString().split('\n').filter(Boolean)) lines.push({ text: line, at: Date.now() });
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, stderr);
    assert.deepEqual(
      lines.map((l) => l.text),
      ['{"tick":0}', '{"tick":1}', '{"tick":2}', '{"tick":3}'],
    );
    assert.ok(lines[3].at - lines[0].at >= 800, `printed over ${lines[3].at - lines[0].at} ms, not at once`);
  });

  test('cortex predict | head: predict exits quietly and the generator stops', async () => {
    const marker = path.join(scratch, 'head');
    const body = JSON.stringify({ mode: 'endless', marker });
    // bash: the exit status of predict itself, and its stderr, after head took 3 KiB and left
    const script =
      `printf '%s' '${body}' | "$0" "$1" predict tokens - 2>"$2" | head -c 3072 >/dev/null; ` + 'echo ${PIPESTATUS[1]}';
    const child = spawn('bash', ['-c', script, process.execPath, cortexBin, marker + '.stderr'], {
      env: { ...process.env, ...local.env, NODE_TEST_CONTEXT: undefined },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let status = '';
    child.stdout.on('data', (c: Buffer) => (status += c.toString()));
    await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(status.trim(), '0', `cortex predict exited ${status.trim()}`);
    assert.equal(readFileSync(marker + '.stderr', 'utf8'), '', 'no error, no stack trace');
    const stopped = await waitFor(
      'the generator to stop',
      () => (existsSync(marker) ? readFileSync(marker, 'utf8') || undefined : undefined),
      15_000,
    );
    assert.match(stopped, /^GeneratorExit after \d+$/);
  });

  test('a client reading a byte a second holds the generator back, memory stays flat; leaving stops it', async (t) => {
    const marker = path.join(scratch, 'endless');
    const count = () => (existsSync(marker + '.count') ? Number(readFileSync(marker + '.count', 'utf8')) : 0);
    const body = JSON.stringify({ mode: 'endless', marker });
    const socket = net.connect(local.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.on('error', () => {});
    socket.write(
      `POST /tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // no 'data' listener: the socket stays paused, and read(1) takes one byte a second
    let read = 0;
    const reader = setInterval(() => (read += socket.read(1)?.length ?? 0), 1000);
    try {
      const supervisor = local.supervisorPid()!;
      await waitFor('the generator to start', () => (count() > 0 ? true : undefined), 30_000);
      await new Promise((resolve) => setTimeout(resolve, 4000)); // the path's buffers fill
      const [made0, rss0] = [count(), treeRss(supervisor)];
      await new Promise((resolve) => setTimeout(resolve, 8000));
      const [made1, rss1] = [count(), treeRss(supervisor)];
      t.diagnostic(
        `made ${made0} → ${made1} KiB, gateway + replica RSS ${rss0 >> 20} → ${rss1 >> 20} MiB, read ${read} B`,
      );
      assert.ok(read >= 6, `the client read ${read} bytes`);
      // 1 KiB chunks: what fills the sockets' buffers and the runtime's credit window, no more
      assert.ok(made1 < 64 * 1024, `the generator made ${made1} KiB for a client that read ${read} bytes`);
      assert.ok(made1 - made0 <= 64, `it went on making chunks: ${made0} → ${made1}`);
      assert.ok(rss1 - rss0 < 16 << 20, `gateway + replica memory grew ${(rss1 - rss0) >> 20} MiB in 8 s`);
    } finally {
      clearInterval(reader);
      socket.destroy();
    }
    const stopped = await waitFor(
      'the generator to stop',
      () => (existsSync(marker) ? readFileSync(marker, 'utf8') || undefined : undefined),
      15_000,
    );
    assert.match(stopped, /^GeneratorExit after \d+$/);
  });
});
