import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { execa } from 'execa';
import { BUNDLE_KEY, BundleSchema } from '../../operator/api/v1alpha1/index.ts';
import { BUNDLE_DIR, PROJECT_DIR, UNPACK_SCRIPT, bundlePart } from '../../operator/reconcilers/deployment.ts';
import { CliError, ExitCode } from '../errors.ts';
import { largestEntries } from './bundle-sizes.ts';
import { BUNDLE_CHUNK_BYTES, bundleConfigMaps, bundleSpec, packBundle, splitBundle } from './bundle.ts';

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

function write(dir: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  }
}

/** A project with files a deploy takes and files it leaves out. */
function project(): string {
  const dir = tempDir('cortex-bundle-test-');
  write(dir, {
    'cortex.yaml': '- name: iris\n  predictor:\n    type: python\n    path: predictor.py\n',
    'predictor.py': 'class PythonPredictor:\n    pass\n',
    'lib/util.py': 'X = 1\n',
    'lib/empty.txt': '',
    'bin/run.sh': '#!/bin/sh\necho hi\n',
    'lib/__pycache__/util.cpython-312.pyc': 'bytecode',
    'stale.pyc': 'bytecode',
    '.git/HEAD': 'ref: refs/heads/main\n',
    '.env': 'SECRET=1\n',
    'node_modules/left-pad/index.js': 'module.exports = 1;\n',
    'data/train.csv': '1,2,3\n',
    'notes.tmp': 'scratch\n',
    '.cortexignore': 'data/\n*.tmp\n',
  });
  chmodSync(path.join(dir, 'bin/run.sh'), 0o700); // owner-only executable: packed as 0755
  chmodSync(path.join(dir, 'lib/util.py'), 0o600); // owner-only readable: packed as 0644
  return dir;
}

const PACKED = ['bin/run.sh', 'cortex.yaml', 'lib/empty.txt', 'lib/util.py', 'predictor.py'];

async function tarList(tgz: Buffer, verbose = false): Promise<string[]> {
  const dir = tempDir('cortex-bundle-list-');
  writeFileSync(path.join(dir, 'b.tgz'), tgz);
  const { stdout } = await execa('tar', verbose ? ['--numeric-owner', '-tvzf', 'b.tgz'] : ['-tzf', 'b.tgz'], {
    cwd: dir,
  });
  return stdout.split('\n').filter(Boolean);
}

test(
  'packing is reproducible: ' + 'same files give the same bytes, whatever the mtimes, permissions beyond x, and folder',
  async () => {
    const dir = project();
    const a = await packBundle(dir);
    const b = await packBundle(dir);
    assert.ok(a.tgz.equals(b.tgz));
    assert.equal(a.sha256, b.sha256);
    assert.match(a.sha256, /^[0-9a-f]{64}$/);

    // new mtimes, other read/write bits, another absolute path: still the same bundle
    const copy = tempDir('cortex-bundle-copy-');
    cpSync(dir, copy, { recursive: true });
    const past = new Date('2001-02-03T04:05:06Z');
    for (const rel of PACKED) utimesSync(path.join(copy, rel), past, past);
    utimesSync(path.join(copy, 'lib'), past, past);
    chmodSync(path.join(copy, 'predictor.py'), 0o664);
    chmodSync(path.join(copy, 'bin/run.sh'), 0o755);
    const c = await packBundle(copy);
    assert.ok(c.tgz.equals(a.tgz), 'a copy with other mtimes and modes packs to the same bytes');
    assert.deepEqual(bundleSpec(c), bundleSpec(a));

    // one changed byte: another hash, other ConfigMap names
    writeFileSync(path.join(copy, 'lib/util.py'), 'X = 2\n');
    const d = await packBundle(copy);
    assert.notEqual(d.sha256, a.sha256);
    assert.notDeepEqual(bundleSpec(d).configMaps, bundleSpec(a).configMaps);
  },
);

test(
  'the tar holds exactly the files a deploy takes, ' +
    'with uid/gid 0, no user names, a fixed mtime and 0644/0755 modes',
  async () => {
    const dir = project();
    const bundle = await packBundle(dir);
    assert.deepEqual(
      bundle.files.map((f) => f.path),
      PACKED,
    );
    assert.equal(
      bundle.bytes,
      PACKED.reduce((n, rel) => n + statSync(path.join(dir, rel)).size, 0),
    );
    assert.deepEqual(await tarList(bundle.tgz), [
      'bin/',
      'bin/run.sh',
      'cortex.yaml',
      'lib/',
      'lib/empty.txt',
      'lib/util.py',
      'predictor.py',
    ]);
    const lines = await tarList(bundle.tgz, true);
    // e.g. "-rwxr-xr-x 0/0 27 1980-01-01 00:00 bin/run.sh"
    const byName = new Map(lines.map((l) => [l.split(/\s+/).at(-1)!, l.split(/\s+/)]));
    assert.deepEqual(byName.get('bin/run.sh')!.slice(0, 2), ['-rwxr-xr-x', '0/0']);
    assert.deepEqual(byName.get('lib/util.py')!.slice(0, 2), ['-rw-r--r--', '0/0']);
    assert.deepEqual(byName.get('lib/')!.slice(0, 2), ['drwxr-xr-x', '0/0']);
    for (const fields of byName.values()) assert.equal(fields[3], '1980-01-01', fields.join(' '));
    assert.deepEqual(bundle.files.find((f) => f.path === 'bin/run.sh')!.mode, 0o755);
    // user and group names are empty in every header (offsets 265 and 297 of the ustar header)
    const { gunzipSync } = await import('node:zlib');
    const tar = gunzipSync(bundle.tgz);
    for (let off = 0; off + 512 <= tar.length && tar[off] !== 0;) {
      const header = tar.subarray(off, off + 512);
      assert.equal(
        header.subarray(265, 265 + 64).every((x) => x === 0),
        true,
        'no uname/gname',
      );
      const size = Number.parseInt(header.subarray(124, 136).toString().replace(/\0/g, '').trim() || '0', 8);
      off += 512 + Math.ceil(size / 512) * 512;
    }
  },
);

test('the gzip header carries no time, no file name and the Unix OS byte', async () => {
  const bundle = await packBundle(project());
  assert.deepEqual([...bundle.tgz.subarray(0, 4)], [0x1f, 0x8b, 8, 0], 'gzip, deflate, no flags (no name, no comment)');
  assert.equal(bundle.tgz.readUInt32LE(4), 0, 'mtime 0');
  assert.equal(bundle.tgz[9], 3, 'OS: Unix');
});

test('the deployed config file is packed as cortex.yaml, and no other top-level config with it', async () => {
  const dir = project();
  write(dir, { 'prod.yaml': '- name: prod\n', 'cortex.yml': '- name: other\n' });
  const bundle = await packBundle(dir, { config: path.join(dir, 'prod.yaml') });
  assert.deepEqual(
    bundle.files.map((f) => f.path),
    PACKED.filter((p) => p !== 'cortex.yaml')
      .concat('cortex.yaml', 'prod.yaml')
      .sort(),
  );
  const out = tempDir('cortex-bundle-unpack-');
  writeFileSync(path.join(out, 'b.tgz'), bundle.tgz);
  await execa('tar', ['-xzf', 'b.tgz'], { cwd: out });
  assert.equal(readFileSync(path.join(out, 'cortex.yaml'), 'utf8'), '- name: prod\n');
});

test('splitting into ConfigMap chunks and joining them again gives the bundle back', () => {
  const tgz = randomBytes(10_000);
  for (const size of [1, 999, 5_000, 10_000, 20_000]) {
    const parts = splitBundle(tgz, size);
    assert.equal(parts.length, Math.ceil(10_000 / size));
    assert.ok(parts.every((p) => p.length <= size));
    assert.ok(Buffer.concat(parts).equals(tgz), `chunks of ${size}`);
  }
});

test(
  'bundle ConfigMaps: immutable, named by the hash, labelled, annotated, in order, ' +
    'and predictor.bundle lists them',
  () => {
    const tgz = randomBytes(BUNDLE_CHUNK_BYTES * 2 + 100);
    const bundle = { tgz, sha256: 'ab'.repeat(32) };
    const cms = bundleConfigMaps(bundle, 'ml');
    const spec = bundleSpec(bundle);
    assert.deepEqual(spec, {
      configMaps: [
        'cortex-bundle-abababababababab-0',
        'cortex-bundle-abababababababab-1',
        'cortex-bundle-abababababababab-2',
      ],
      sha256: bundle.sha256,
    });
    assert.ok(Value.Check(BundleSchema, spec), 'a valid predictor.bundle');
    assert.deepEqual(
      cms.map((c) => c.metadata!.name),
      spec.configMaps,
    );
    for (const [i, cm] of cms.entries()) {
      assert.equal(cm.metadata!.namespace, 'ml');
      assert.equal(cm.immutable, true);
      assert.deepEqual(cm.metadata!.labels, {
        'app.kubernetes.io/managed-by': 'cortex',
        'cortex.dev/bundle': 'abababababababab',
      });
      assert.deepEqual(cm.metadata!.annotations, {
        'cortex.dev/bundle-sha256': bundle.sha256,
        'cortex.dev/bundle-part': `${i + 1}/3`,
      });
      assert.deepEqual(Object.keys(cm.binaryData as object), [BUNDLE_KEY]);
    }
    const joined = Buffer.concat(
      cms.map((c) => Buffer.from((c.binaryData as Record<string, string>)[BUNDLE_KEY], 'base64')),
    );
    assert.ok(joined.equals(tgz));
  },
);

test('a full chunk stays appliable by client-side kubectl apply: the object fits the 256 KiB annotation limit', () => {
  const [cm] = bundleConfigMaps(
    { tgz: randomBytes(BUNDLE_CHUNK_BYTES), sha256: 'cd'.repeat(32) },
    'a-namespace-with-a-rather-long-name-of-sixty-three-characters-xx',
  );
  // kubectl stores the object it applies (as JSON) in the kubectl.kubernetes.io/last-applied-configuration annotation
  const lastApplied = JSON.stringify(cm);
  const annotations =
    Buffer.byteLength(lastApplied) +
    'kubectl.kubernetes.io/last-applied-configuration'.length +
    JSON.stringify(cm.metadata!.annotations).length;
  assert.ok(annotations < 256 * 1024 - 8 * 1024, `${annotations} bytes of annotations leave headroom under 256 KiB`);
});

/** Runs the init container's script for real, with its folders (and the termination log) moved into `root`. */
async function runInitContainer(root: string, parts: Buffer[], sha256: string) {
  const bundleDir = path.join(root, 'bundle');
  const projectDir = path.join(root, 'project');
  const terminationLog = path.join(root, 'termination-log');
  mkdirSync(bundleDir);
  mkdirSync(projectDir);
  // what the projected volume holds: one file per ConfigMap, key BUNDLE_KEY at bundlePart(i)
  parts.forEach((part, i) => writeFileSync(path.join(bundleDir, bundlePart(i)), part));
  const script = UNPACK_SCRIPT.replaceAll(BUNDLE_DIR, bundleDir)
    .replaceAll(PROJECT_DIR, projectDir)
    .replaceAll('/dev/termination-log', terminationLog);
  assert.ok(!script.includes('/mnt/') && !script.includes('/dev/termination'), 'every path of the script is moved');
  const result = await execa('sh', ['-c', script], { env: { CORTEX_BUNDLE_SHA256: sha256 }, reject: false });
  return { result, projectDir, terminationLog };
}

test('the init container joins the ConfigMap chunks, verifies the sha256 and unpacks the project', async () => {
  const dir = project();
  // incompressible content, so that the bundle spans three ConfigMaps
  write(dir, { 'models/weights.bin': randomBytes(BUNDLE_CHUNK_BYTES * 2 + 1000) });
  const bundle = await packBundle(dir);
  const cms = bundleConfigMaps(bundle, 'ml');
  assert.equal(cms.length, 3);
  const parts = cms.map((c) => Buffer.from((c.binaryData as Record<string, string>)[BUNDLE_KEY], 'base64'));
  const { result, projectDir } = await runInitContainer(tempDir('cortex-init-'), parts, bundle.sha256);
  assert.equal(result.exitCode, 0, result.stderr);
  for (const f of bundle.files) {
    const unpacked = path.join(projectDir, f.path);
    assert.ok(readFileSync(unpacked).equals(readFileSync(path.join(dir, f.path))), f.path);
    assert.equal(statSync(unpacked).mode & 0o777, f.mode, `${f.path} mode`);
  }
  const { stdout } = await execa('find', ['.', '-mindepth', '1'], { cwd: projectDir });
  assert.deepEqual(
    stdout.split('\n').sort(),
    [
      './bin',
      './bin/run.sh',
      './cortex.yaml',
      './lib',
      './lib/empty.txt',
      './lib/util.py',
      './models',
      './models/weights.bin',
      './predictor.py',
    ],
    'nothing else, and the joined .bundle.tgz is removed',
  );
});

test(
  'the init container refuses a bundle whose chunks do ' + 'not match the sha256 and says so in the termination log',
  async () => {
    const bundle = await packBundle(project());
    const parts = splitBundle(bundle.tgz, 100);
    parts[1] = Buffer.from(parts[1]);
    parts[1][0] ^= 0xff;
    const { result, projectDir, terminationLog } = await runInitContainer(
      tempDir('cortex-init-bad-'),
      parts,
      bundle.sha256,
    );
    assert.equal(result.exitCode, 1);
    assert.match(
      readFileSync(terminationLog, 'utf8'),
      new RegExp(`does not match predictor.bundle.sha256 ${bundle.sha256}: redeploy`),
    );
    const { stdout } = await execa('find', ['.', '-mindepth', '1', '!', '-name', '.bundle.tgz'], { cwd: projectDir });
    assert.equal(stdout, '', 'nothing unpacked');
  },
);

test(
  'a project over the size limit: ' + 'a usage error naming the folder, its size, the largest entries and the fixes',
  async () => {
    const dir = project();
    write(dir, {
      'models/resnet.bin': randomBytes(300_000),
      'models/small.bin': randomBytes(20_000),
      'big.csv': randomBytes(100_000),
    });
    let error: unknown;
    try {
      await packBundle(dir, { maxBytes: 64 * 1024 });
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof CliError, String(error));
    assert.equal(error.exitCode, ExitCode.Usage);
    const lines = error.message.split('\n');
    assert.match(
      lines[0],
      new RegExp(
        `^cannot deploy ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: its 8 files hold 41\\d\\.\\d KiB, more than the 64\\.0 KiB a code bundle may hold once compressed`,
      ),
    );
    assert.equal(lines[1], 'the largest:');
    assert.deepEqual(
      lines.slice(2, 5).map((l) => l.trim().split(/\s+/)[0]),
      ['models/', 'models/resnet.bin', 'big.csv'],
    );
    assert.match(lines[2], /models\/\s+312\.5 KiB$/);
    assert.match(
      error.message,
      new RegExp(
        `${path.join(dir, '.cortexignore').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(gitignore syntax, e\\.g\\. "models/"\\)`,
      ),
    );
    assert.match(error.message, /predictor\.image/);
  },
);

test('largest entries: top-level folders summed, files anywhere, biggest first', () => {
  const files = [
    { rel: 'a.py', size: 10 },
    { rel: 'models/v1/big.bin', size: 500 },
    { rel: 'models/v1/small.bin', size: 20 },
    { rel: 'data/x.csv', size: 100 },
    { rel: 'data/y.csv', size: 100 },
  ];
  assert.deepEqual(largestEntries(files, 4), [
    { path: 'models/', size: 520 },
    { path: 'models/v1/big.bin', size: 500 },
    { path: 'data/', size: 200 },
    { path: 'data/x.csv', size: 100 },
  ]);
});
