import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiLogger } from '../operator/util/log.ts';
import { ensureVenv, evict, findVenv, keptInterpreterId, markUsed } from './venv-cache.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function cacheDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cortex-venv-cache-'));
  dirs.push(dir);
  return dir;
}

function capture() {
  const lines: string[] = [];
  const logger = apiLogger('api', 'info', (chunk) => {
    for (const l of chunk.split('\n')) if (l !== '') lines.push((JSON.parse(l) as { message: string }).message);
  });
  return { logger, messages: () => (logger.flush(), lines) };
}

/** An install that writes `bytes` bytes into the new folder after `ms`, counting its calls. */
function fakeInstall(bytes = 10, ms = 0) {
  const calls = { n: 0 };
  const install = async (folder: string) => {
    calls.n++;
    await sleep(ms);
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'payload'), Buffer.alloc(bytes));
  };
  return { install, calls };
}

function ageBy(file: string, ms: number): void {
  const then = new Date(Date.now() - ms);
  utimesSync(file, then, then);
}

test('replicas starting together install one key once; the others wait and reuse it', async () => {
  const root = cacheDir();
  const { install, calls } = fakeInstall(10, 300);
  const { logger, messages } = capture();
  const results = await Promise.all([1, 2, 3].map(() => ensureVenv(root, 'k1', install, logger, { pollMs: 20 })));
  assert.equal(calls.n, 1);
  assert.deepEqual(results.map((r) => r.installed).sort(), [false, false, true]);
  assert.ok(results.every((r) => r.venv === path.join(root, 'venvs', 'k1')));
  assert.ok(messages().some((m) => m.includes('another replica on this machine is installing')));
  // no lock nor building folder left behind
  assert.deepEqual(readdirSync(path.join(root, 'venvs')), ['k1']);
  assert.equal(findVenv(root, 'k1'), path.join(root, 'venvs', 'k1'));
});

test('a failed install leaves neither a venv nor its lock, and the next replica tries again', async () => {
  const root = cacheDir();
  const { logger } = capture();
  await assert.rejects(
    ensureVenv(root, 'k', () => Promise.reject(new Error('pip failed')), logger),
    /pip failed/,
  );
  assert.deepEqual(readdirSync(path.join(root, 'venvs')), []);
  const { install, calls } = fakeInstall();
  assert.equal((await ensureVenv(root, 'k', install, logger)).installed, true);
  assert.equal(calls.n, 1);
});

test('the lock of a replica that stopped beating is taken over; a live one is waited for', async () => {
  const root = cacheDir();
  const { logger, messages } = capture();
  const lock = path.join(root, 'venvs', 'k.lock');
  mkdirSync(lock, { recursive: true });
  ageBy(lock, 5_000);
  const { install, calls } = fakeInstall();
  const r = await ensureVenv(root, 'k', install, logger, { pollMs: 20, staleLockMs: 1_000 });
  assert.equal(r.installed, true);
  assert.equal(calls.n, 1);
  assert.ok(messages().some((m) => m.startsWith('removing the lock of an install that stopped')));

  // a fresh lock: the caller waits (and installs nothing) until the holder's venv appears
  const other = await ensureVenvWhileLocked(root, logger);
  assert.equal(other.installed, false);
});

async function ensureVenvWhileLocked(root: string, logger: ReturnType<typeof capture>['logger']) {
  const lock = path.join(root, 'venvs', 'k2.lock');
  mkdirSync(lock);
  const { install, calls } = fakeInstall();
  const pending = ensureVenv(root, 'k2', install, logger, { pollMs: 20, staleLockMs: 60_000 });
  await sleep(200);
  // the holder finishes: its venv appears, its lock goes
  const venv = path.join(root, 'venvs', 'k2');
  mkdirSync(venv);
  writeFileSync(path.join(venv, '.cortex-complete'), 'x');
  rmSync(lock, { recursive: true });
  const result = await pending;
  assert.equal(calls.n, 0);
  return result;
}

test('over the size cap, the least recently used venvs go; the new one and those in use stay', async () => {
  const root = cacheDir();
  const { logger, messages } = capture();
  for (const key of ['old', 'older', 'busy', 'new']) await ensureVenv(root, key, fakeInstall(1000).install, logger);
  const venvs = path.join(root, 'venvs');
  // used: old 2 h ago, older 3 h ago, busy 1 min ago (a running replica), new just now
  markUsed(path.join(venvs, 'old'));
  ageBy(path.join(venvs, 'old', '.cortex-used'), 2 * 3600_000);
  ageBy(path.join(venvs, 'older', '.cortex-complete'), 3 * 3600_000);
  markUsed(path.join(venvs, 'busy'));
  ageBy(path.join(venvs, 'busy', '.cortex-used'), 60_000);
  // leftovers of killed replicas: an install with no lock, a half-evicted folder
  mkdirSync(path.join(venvs, 'gone.building-0a1b'));
  mkdirSync(path.join(venvs, 'x.evicting-0a1b'));

  // each venv is 1000 bytes of payload plus its bookkeeping: a cap of 2500 keeps two
  const removed = evict(root, 2500, 'new', logger);
  assert.deepEqual(removed, ['older', 'old']);
  assert.deepEqual(readdirSync(venvs).sort(), ['busy', 'new']);
  assert.ok(messages().some((m) => m.startsWith('evicted cached dependencies older')));

  // a cap nothing can meet: what is in use stays, and the log says so
  assert.deepEqual(evict(root, 10, 'new', logger), []);
  assert.ok(messages().some((m) => m.includes('over its limit') && m.includes('all of it in use')));
  assert.ok(existsSync(path.join(venvs, 'busy')));
});

test("an interpreter's identity is asked once, and again when a folder on its sys.path changes", async () => {
  const root = cacheDir();
  const python = path.join(root, 'bin', 'python3');
  const site = path.join(root, 'site-packages');
  mkdirSync(path.dirname(python));
  mkdirSync(site);
  writeFileSync(python, '');
  let asked = 0;
  const ask = async () => ({ id: `python ${++asked}`, folders: [site] });
  assert.equal(await keptInterpreterId(root, python, ask), 'python 1');
  assert.equal(await keptInterpreterId(root, python, ask), 'python 1');
  // a package installed: a new folder in site-packages, whose mtime changes
  const later = new Date(Date.now() + 5000);
  mkdirSync(path.join(site, 'pkg-1.0.dist-info'));
  utimesSync(site, later, later);
  assert.equal(await keptInterpreterId(root, python, ask), 'python 2');
  // another interpreter (a virtualenv's python) is kept apart
  const other = path.join(root, 'venv', 'python');
  mkdirSync(path.dirname(other));
  writeFileSync(other, '');
  assert.equal(await keptInterpreterId(root, other, ask), 'python 3');
  assert.equal(await keptInterpreterId(root, python, ask), 'python 2');
});
