import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { OutsideLinksError, createSnapshot, listProjectFiles, localSnapshotIncludes } from './snapshot.ts';

function project(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cortex-snapshot-test-'));
  const files: Record<string, string> = {
    'cortex.yaml': '- name: a\n',
    'predictor.py': 'class PythonPredictor: pass\n',
    'lib/util.py': 'X = 1\n',
    'lib/__pycache__/util.cpython-311.pyc': 'bytecode',
    '.git/HEAD': 'ref',
    'node_modules/x/index.js': '',
    'data/big.csv': '1,2,3\n',
    '.cortexignore': 'data/\n',
  };
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

test('a project folder is listed without what a deploy leaves out', () => {
  const dir = project();
  try {
    assert.deepEqual(
      listProjectFiles(dir).map((f) => f.rel),
      ['cortex.yaml', 'lib/util.py', 'predictor.py'],
    );
    // a folder never entered (the cortex home inside a project, say)
    assert.deepEqual(
      listProjectFiles(dir, { skipDirs: [path.join(dir, 'lib')] }).map((f) => f.rel),
      ['cortex.yaml', 'predictor.py'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('.env is left out of a listing, but a local snapshot takes it (its replicas read it beside cortex.yaml)', () => {
  const dir = project();
  const store = mkdtempSync(path.join(tmpdir(), 'cortex-snapshots-'));
  try {
    writeFileSync(path.join(dir, '.env'), 'SECRET=1\n');
    assert.ok(!listProjectFiles(dir).some((f) => f.rel === '.env'), 'bundles and image builds leave it out');
    const includes = localSnapshotIncludes(dir, path.join(dir, 'cortex.yaml'));
    const snapshot = createSnapshot(listProjectFiles(dir, { include: includes }), store);
    assert.equal(readFileSync(path.join(snapshot.dir, '.env'), 'utf8'), 'SECRET=1\n');
    rmSync(path.join(dir, '.env'));
    assert.deepEqual(
      listProjectFiles(dir, { include: includes }).map((f) => f.rel),
      ['cortex.yaml', 'lib/util.py', 'predictor.py'],
      'no .env, nothing added',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(store, { recursive: true, force: true });
  }
});

test('a symlink loop does not hang the walk', () => {
  const dir = project();
  try {
    symlinkSync(dir, path.join(dir, 'lib', 'loop'));
    const rels = listProjectFiles(dir).map((f) => f.rel);
    assert.ok(rels.includes('predictor.py'));
    assert.ok(rels.length < 10);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('snapshots are copies with a content hash: equal contents, equal hash; any change, another hash', () => {
  const dir = project();
  const store = mkdtempSync(path.join(tmpdir(), 'cortex-snapshots-'));
  try {
    const a = createSnapshot(listProjectFiles(dir), store);
    const b = createSnapshot(listProjectFiles(dir), store);
    assert.equal(a.hash, b.hash);
    assert.notEqual(a.dir, b.dir);
    assert.equal(a.files, 3);
    assert.equal(readFileSync(path.join(a.dir, 'lib', 'util.py'), 'utf8'), 'X = 1\n');
    writeFileSync(path.join(dir, 'lib', 'util.py'), 'X = 2\n');
    const c = createSnapshot(listProjectFiles(dir), store);
    assert.notEqual(c.hash, a.hash);
    assert.equal(readFileSync(path.join(a.dir, 'lib', 'util.py'), 'utf8'), 'X = 1\n', 'the earlier copy is untouched');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(store, { recursive: true, force: true });
  }
});

test('links leaving the project are refused, each named with its target and the fix; links inside are followed', () => {
  const dir = project();
  const outside = mkdtempSync(path.join(tmpdir(), 'cortex-snapshot-outside-'));
  try {
    mkdirSync(path.join(outside, 'shared'));
    writeFileSync(path.join(outside, 'shared', 'code.py'), 'Y = 1\n');
    symlinkSync('/etc/passwd', path.join(dir, 'passwd'));
    symlinkSync(path.join(outside, 'shared'), path.join(dir, 'lib', 'shared'));
    symlinkSync('util.py', path.join(dir, 'lib', 'alias.py')); // inside: deployed under the link's name
    assert.throws(
      () => listProjectFiles(dir),
      (err: unknown) => {
        assert.ok(err instanceof OutsideLinksError);
        assert.equal(err.exitCode, 2);
        assert.deepEqual(
          err.links.map((l) => [l.rel, l.target]),
          [
            ['lib/shared', realpathSync(path.join(outside, 'shared'))],
            ['passwd', '/etc/passwd'],
          ],
        );
        const lines = err.message.split('\n');
        assert.equal(lines.length, 2);
        assert.match(lines[1], /passwd: links to \/etc\/passwd, outside the project folder .*; fix: replace the link/);
        assert.match(lines[1], /list \/passwd in \.cortexignore/);
        return true;
      },
    );
    // what .cortexignore leaves out is not looked at
    writeFileSync(path.join(dir, '.cortexignore'), 'data/\n/passwd\nlib/shared\n');
    assert.deepEqual(
      listProjectFiles(dir).map((f) => f.rel),
      ['cortex.yaml', 'lib/alias.py', 'lib/util.py', 'predictor.py'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});
