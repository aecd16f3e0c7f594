import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { KeyRing, hashKey, keyId, newKey, parseRecord, type KeyRecord } from './keys.ts';
import { readKeyDir } from '../../runtime/key-dir.ts';

const bearer = (key: string) => `Bearer ${key}`;

function ring(records: Record<string, KeyRecord>, now = () => 0): KeyRing {
  const r = new KeyRing(now);
  r.replace(new Map(Object.entries(records)));
  return r;
}

test('a new key is ctx_<id>_<secret>: its id is readable, only its SHA-256 is stored', () => {
  const { key, record } = newKey('ci-bot');
  assert.match(key, /^ctx_ci-bot_[A-Za-z0-9_-]{43}$/);
  assert.equal(keyId(key), 'ci-bot');
  assert.equal(record.sha256, hashKey(key));
  assert.ok(!JSON.stringify(record).includes(key.slice(11)), 'the secret is not in the record');
  assert.notEqual(newKey('ci-bot').key, key, 'random');
  for (const bad of ['', 'ctx_', 'ctx_a', 'ctx_A_' + 'x'.repeat(43), 'ctx_a_short', 'bearer ctx_a_' + 'x'.repeat(43)]) {
    assert.equal(keyId(bad), undefined, bad);
  }
});

test('missing, malformed, wrong and unknown keys are 401; the right key passes with its name', () => {
  const a = newKey('a');
  const b = newKey('b');
  const keys = ring({ a: a.record });
  assert.deepEqual(keys.check(bearer(a.key)), { ok: true, key: 'a' });
  assert.deepEqual(keys.check(`bearer   ${a.key}  `), { ok: true, key: 'a' }, 'scheme is case-insensitive');
  for (const header of [undefined, '', 'Bearer ', `Basic ${a.key}`, a.key]) {
    const v = keys.check(header);
    assert.ok(!v.ok && v.status === 401 && v.reason === 'missing', String(header));
  }
  const wrongSecret = a.key.slice(0, -1) + (a.key.endsWith('A') ? 'B' : 'A');
  for (const header of [bearer(wrongSecret), bearer(b.key), bearer('ctx_a_x'), bearer('nonsense')]) {
    const v = keys.check(header);
    assert.ok(!v.ok && v.status === 401 && v.reason === 'invalid', header);
    assert.ok(!v.error.includes(header.slice(7)), 'the answer does not echo the key');
  }
});

test('revoked and rotated keys: a reload drops the revoked one, the new one works at once', () => {
  const old = newKey('deploy');
  const rotated = newKey('deploy-2');
  const keys = ring({ deploy: old.record });
  assert.equal(keys.check(bearer(old.key)).ok, true);
  keys.replace(
    new Map([
      ['deploy', old.record],
      ['deploy-2', rotated.record],
    ]),
  );
  assert.equal(keys.check(bearer(old.key)).ok, true, 'both work while clients move over');
  assert.equal(keys.check(bearer(rotated.key)).ok, true);
  keys.replace(new Map([['deploy-2', rotated.record]]));
  const v = keys.check(bearer(old.key));
  assert.ok(!v.ok && v.status === 401);
  assert.equal(keys.check(bearer(rotated.key)).ok, true);
  // a key re-created under the same name is a new secret: the old one stays refused
  const again = newKey('deploy');
  keys.replace(new Map([['deploy', again.record]]));
  assert.equal(keys.check(bearer(old.key)).ok, false);
  assert.equal(keys.check(bearer(again.key)).ok, true);
});

test('the token bucket: burst at once, then requestsPerSecond; 429 says when to retry', () => {
  let now = 0;
  const k = newKey('k', { requestsPerSecond: 2, burst: 3 });
  const keys = ring({ k: k.record }, () => now);
  const results = () => Array.from({ length: 5 }, () => keys.check(bearer(k.key)).ok);
  assert.deepEqual(results(), [true, true, true, false, false]);
  const refused = keys.check(bearer(k.key));
  assert.ok(!refused.ok && refused.status === 429 && refused.key === 'k' && refused.retryAfterSeconds === 1);
  now = 500; // half a second: one token back
  assert.deepEqual(results(), [true, false, false, false, false]);
  now = 60_000; // a quiet minute fills the bucket to its size, no more
  assert.deepEqual(results(), [true, true, true, false, false]);
  // a reload with the same record keeps the bucket (no fresh burst); a changed limit starts anew
  keys.replace(new Map([['k', { ...k.record }]]));
  assert.equal(keys.check(bearer(k.key)).ok, false);
  keys.replace(new Map([['k', { ...k.record, burst: 10 }]]));
  assert.equal(keys.check(bearer(k.key)).ok, true);
  // slow rates ask for a longer wait
  const slow = newKey('slow', { requestsPerSecond: 0.1 });
  const s = ring({ slow: slow.record }, () => now);
  assert.equal(s.check(bearer(slow.key)).ok, true);
  const v = s.check(bearer(slow.key));
  assert.ok(!v.ok && v.status === 429 && v.retryAfterSeconds === 10);
});

test('stored records are checked: each problem says what the field needs', () => {
  assert.throws(() => parseRecord('{'), /is not JSON/);
  assert.throws(() => parseRecord('{"sha256":"abc"}'), /"sha256": the SHA-256 of the whole key, 64 lowercase hex/);
  const sha256 = hashKey('x');
  assert.throws(() => parseRecord(JSON.stringify({ sha256, requestsPerSecond: 0 })), /"requestsPerSecond" must be/);
  assert.throws(() => parseRecord(JSON.stringify({ sha256, burst: 5 })), /"burst" needs "requestsPerSecond"/);
  assert.deepEqual(parseRecord(JSON.stringify({ sha256, requestsPerSecond: 5 })), { sha256, requestsPerSecond: 5 });
});

const dir = mkdtempSync(path.join(tmpdir(), 'cortex-keydir-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a key folder as the kubelet mounts a Secret (..data link swapped) and with a bad file in it', () => {
  const a = newKey('a');
  const b = newKey('b');
  const mount = path.join(dir, 'mount');
  const data1 = path.join(mount, '..2026_12_03_1');
  mkdirSync(data1, { recursive: true });
  writeFileSync(path.join(data1, 'a'), JSON.stringify(a.record));
  writeFileSync(path.join(data1, 'b'), '{"sha256": "not hex"}');
  symlinkSync('..2026_12_03_1', path.join(mount, '..data'));
  symlinkSync('..data/a', path.join(mount, 'a'));
  symlinkSync('..data/b', path.join(mount, 'b'));
  const problems: string[] = [];
  const records = readKeyDir(mount, (file, problem) => problems.push(`${file} ${problem}`));
  assert.deepEqual([...records.keys()], ['a']);
  assert.equal(problems.length, 1);
  assert.match(problems[0], /mount\/b needs "sha256"/);
  // the kubelet's update: a new data folder, the ..data link swapped atomically; b fixed, a gone
  const data2 = path.join(mount, '..2026_12_03_2');
  mkdirSync(data2);
  writeFileSync(path.join(data2, 'b'), JSON.stringify(b.record));
  symlinkSync('..2026_12_03_2', path.join(mount, '..data_tmp'));
  renameSync(path.join(mount, '..data_tmp'), path.join(mount, '..data'));
  rmSync(path.join(mount, 'a'));
  const after2 = readKeyDir(mount, () => assert.fail('no problem now'));
  assert.deepEqual([...after2.keys()], ['b']);
  assert.equal(readKeyDir(path.join(dir, 'missing'), () => {}).size, 0, 'no folder: no keys');
});
