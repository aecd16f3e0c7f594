import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alwaysSkipped, isIgnored, parseIgnore } from './ignore.ts';

test('hidden files, bytecode, __pycache__ and node_modules are always skipped', () => {
  for (const name of ['.git', '.env', '__pycache__', 'node_modules', 'model.pyc']) assert.ok(alwaysSkipped(name), name);
  for (const name of ['predictor.py', 'model.pkl', 'requirements.txt']) assert.ok(!alwaysSkipped(name), name);
});

test('.cortexignore: gitignore patterns', () => {
  const rules = parseIgnore(
    ['# data is downloaded at start', 'data/', '*.csv', '!keep.csv', '/train.py', 'docs/**/*.png', 'tmp?', ''].join(
      '\n',
    ),
  );
  const cases: [string, boolean, boolean][] = [
    ['data', true, true],
    ['data', false, false], // a file named data: the pattern is for folders
    ['sub/data', true, true], // no slash inside: matches at any depth
    ['a.csv', false, true],
    ['sub/b.csv', false, true],
    ['keep.csv', false, false], // re-included
    ['train.py', false, true],
    ['sub/train.py', false, false], // anchored
    ['docs/x.png', false, true],
    ['docs/a/b/x.png', false, true],
    ['other/x.png', false, false],
    ['tmp1', false, true],
    ['tmp12', false, false],
    ['predictor.py', false, false],
  ];
  for (const [rel, dir, expected] of cases)
    assert.equal(isIgnored(rules, rel, dir), expected, `${rel}${dir ? '/' : ''}`);
});
