// Includes/excludes globs mean what they meant in Cortex (gobwas/glob, '/' as separator, matched
// against the whole URL): its documented examples select the same files here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GlobError, compileGlob } from './glob.ts';

const images = ['png', 'jpg', 'jpg', 'gif'].map((ext, i) => `s3://bucket/images/img_${i + 1}.${ext}`);
const select = (pattern: string, urls = images) => urls.filter(compileGlob(pattern));

test("Cortex's filtering examples select the same files", () => {
  assert.deepEqual(select('**.jpg'), [images[1], images[2]]);
  assert.deepEqual(select('**_3.jpg'), [images[2]]);
  assert.deepEqual(select('**.gif'), [images[3]]);
});

test('* and ? stop at /, ** crosses it; classes, alternatives and escapes', () => {
  const urls = ['s3://b/a/x.json', 's3://b/a/deep/y.json', 's3://b/a/z.txt', 's3://b/a/*.json'];
  assert.deepEqual(select('s3://b/a/*.json', urls), [urls[0], urls[3]]);
  assert.deepEqual(select('s3://b/a/**.json', urls), [urls[0], urls[1], urls[3]]);
  assert.deepEqual(select('s3://b/a/?.json', urls), [urls[0], urls[3]]);
  assert.deepEqual(select('s3://b/a/?.{txt,json}', urls), [urls[0], urls[2], urls[3]]);
  assert.deepEqual(select('s3://b/a/[xz].*', urls), [urls[0], urls[2]]);
  assert.deepEqual(select('s3://b/a/[!xz].*', urls), [urls[3]]);
  assert.deepEqual(select('s3://b/a/\\*.json', urls), [urls[3]]);
  assert.deepEqual(select('s3://b/a/[a-y].json', urls), [urls[0]]);
  assert.deepEqual(select('**', urls), urls);
  assert.deepEqual(select('*', urls), [], '* alone never crosses the slashes of a URL');
});

test('a pattern that cannot compile is a GlobError', () => {
  for (const bad of ['[abc', '{a,b', 'x\\', '[]']) assert.throws(() => compileGlob(bad), GlobError, bad);
});
