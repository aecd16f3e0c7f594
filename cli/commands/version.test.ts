import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { versionCommand, type VersionOptions } from './version.ts';
import { cortex, testFactory } from './testing.ts';

const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
const version = typeof pkg === 'object' && pkg !== null && 'version' in pkg ? String(pkg.version) : '';

test('version prints the CLI and Node versions, as text and as JSON', async () => {
  assert.deepEqual(await cortex(testFactory(), 'version'), {
    code: 0,
    stdout: `cortex ${version} (node ${process.version})\n`,
    stderr: '',
  });
  const json = await cortex(testFactory(), 'version', '-o', 'json');
  assert.equal(json.code, 0);
  assert.deepEqual(JSON.parse(json.stdout), { version, node: process.version });
});

test('version: flags become the options object; an unknown flag is a usage error (2)', async () => {
  const f = testFactory();
  const seen: VersionOptions[] = [];
  await versionCommand(f, (options) => void seen.push(options)).parseAsync(['-o', 'json'], { from: 'user' });
  assert.deepEqual(seen, [{ output: 'json' }]);
  const bad = await cortex(testFactory(), 'version', '--bogus');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown option '--bogus'/);
  f.cleanup();
});
