import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { checkSocket, isInside, layout, privateDir, secureLayout } from './paths.ts';

const root = mkdtempSync(path.join(tmpdir(), 'cortex-paths-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
const asRoot = process.getuid?.() === 0;
const NOBODY = 65534;

describe('paths: a private home and socket', () => {
  test('the home is created 0700 even with umask 000, and an existing open one is closed to others', () => {
    const old = process.umask(0);
    try {
      const home = path.join(root, 'fresh', 'home');
      secureLayout(layout(home));
      assert.equal(statSync(home).mode & 0o777, 0o700);
      const open = path.join(root, 'open');
      mkdirSync(open);
      chmodSync(open, 0o777);
      privateDir(open);
      assert.equal(statSync(open).mode & 0o777, 0o700);
    } finally {
      process.umask(old);
    }
  });

  test('a deep home gets its socket in a private folder of the temp folder, not in the temp folder', () => {
    const deep = path.join(root, 'x'.repeat(120));
    const l = layout(deep);
    assert.notEqual(path.dirname(l.socket), tmpdir());
    assert.equal(path.dirname(path.dirname(l.socket)), tmpdir());
    secureLayout(l);
    assert.equal(statSync(path.dirname(l.socket)).mode & 0o777, 0o700);
  });

  test('a home or socket owned by another user is refused', { skip: !asRoot && 'needs root to chown' }, async () => {
    const theirs = path.join(root, 'theirs');
    mkdirSync(theirs, { mode: 0o700 });
    chownSync(theirs, NOBODY, NOBODY);
    assert.throws(() => privateDir(theirs), /belongs to user 65534, not to you/);
    const sock = path.join(root, 's.sock');
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      assert.equal(checkSocket(sock), true);
      chownSync(sock, NOBODY, NOBODY);
      assert.throws(() => checkSocket(sock), /belongs to user 65534, not to you/);
    } finally {
      server.close();
    }
    const file = path.join(root, 'not-a-socket');
    writeFileSync(file, '');
    assert.throws(() => checkSocket(file), /is not a socket/);
    assert.equal(checkSocket(path.join(root, 'none.sock')), false);
  });

  test('isInside: strictly inside, no escape', () => {
    assert.equal(isInside('/h/snapshots', '/h/snapshots/abc'), true);
    assert.equal(isInside('/h/snapshots', '/h/snapshots/..abc'), true);
    assert.equal(isInside('/h/snapshots', '/h/snapshots'), false);
    assert.equal(isInside('/h/snapshots', '/h/snapshots/../../etc'), false);
    assert.equal(isInside('/h/snapshots', '/tmp/victim'), false);
  });
});
