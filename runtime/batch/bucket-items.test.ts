// The pieces of bucket-items.ts that need no bucket: lines split across chunks however the bytes
// arrive, and s3_paths read as Cortex's key prefixes. The listing and reading run against moto's
// S3 server in test/local-batch-files.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BucketItemsError, MAX_LINE_CHARS, lines, listJobFiles, splitBucketPath } from './bucket-items.ts';
import { parseBatchSubmission } from './submission.ts';

async function* chunks(text: string, size: number): AsyncGenerator<Uint8Array> {
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}
const all = async (text: string, size: number) => {
  const got: [string, number][] = [];
  for await (const l of lines(chunks(text, size), 's3://b/f')) got.push(l);
  return got;
};

test('lines come whole and numbered whatever the chunks: CRLF, UTF-8 split mid-char, no last newline', async () => {
  const text = '{"a": "é"}\r\n\r\n["ü", 2]\n"日本"';
  const want: [string, number][] = [
    ['{"a": "é"}', 1],
    ['', 2],
    ['["ü", 2]', 3],
    ['"日本"', 4],
  ];
  for (const size of [1, 2, 3, 5, 7, 64]) assert.deepEqual(await all(text, size), want, `chunks of ${size}`);
  assert.deepEqual(await all('1\n2\n', 4), [
    ['1', 1],
    ['2', 2],
  ]);
});

test('a line longer than the limit is refused with its file and number, before it is held whole', async () => {
  const long = `1\n${'x'.repeat(MAX_LINE_CHARS + 10)}\n3\n`;
  await assert.rejects(all(long, 64 * 1024), (e: unknown) => {
    assert.ok(e instanceof BucketItemsError);
    assert.match(e.message, /^s3:\/\/b\/f:2: a line longer than 1048576 characters; fix: /);
    return true;
  });
});

test("s3_paths are Cortex's key prefixes: the trailing / kept, the bucket checked", () => {
  assert.deepEqual(splitBucketPath('s3://bucket/images/'), { scheme: 's3', bucket: 'bucket', prefix: 'images/' });
  assert.deepEqual(splitBucketPath('gs://my.bucket/img'), { scheme: 'gs', bucket: 'my.bucket', prefix: 'img' });
  assert.deepEqual(splitBucketPath('s3://bucket'), { scheme: 's3', bucket: 'bucket', prefix: '' });
  for (const bad of ['s3://B/x', 'https://bucket/x', 's3://ab/x', 's3:/bucket/x']) {
    assert.throws(() => splitBucketPath(bad), BucketItemsError, bad);
  }
});

test('listJobFiles (dryRun): an item_list job reads no file, and lists no bucket', async () => {
  const spec = parseBatchSubmission('recorder', { workers: 1, item_list: { items: [1, 2], batch_size: 1 } });
  const files: string[] = [];
  // endpoints that reach nothing: a listing would fail
  for await (const f of listJobFiles(spec, { s3: 'http://127.0.0.1:1', gcs: 'http://127.0.0.1:1' })) files.push(f);
  assert.deepEqual(files, []);
});
