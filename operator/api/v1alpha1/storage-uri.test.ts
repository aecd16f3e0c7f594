import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageUriError, parseStorageUri, pvcClaims } from './storage-uri.ts';

test('each scheme parses into its parts', () => {
  assert.deepEqual(parseStorageUri('s3://models/iris/1/'), {
    scheme: 's3',
    uri: 's3://models/iris/1/',
    bucket: 'models',
    key: 'iris/1',
  });
  assert.deepEqual(parseStorageUri('gs://b.c-d/m.onnx'), {
    scheme: 'gs',
    uri: 'gs://b.c-d/m.onnx',
    bucket: 'b.c-d',
    key: 'm.onnx',
  });
  assert.deepEqual(parseStorageUri('hf://acme/tiny@v1.0'), {
    scheme: 'hf',
    uri: 'hf://acme/tiny@v1.0',
    repo: 'acme/tiny',
    revision: 'v1.0',
  });
  assert.equal((parseStorageUri('hf://acme/tiny') as { revision: string }).revision, 'main');
  assert.deepEqual(parseStorageUri('pvc://claim/a/b'), {
    scheme: 'pvc',
    uri: 'pvc://claim/a/b',
    claim: 'claim',
    path: 'a/b',
  });
  assert.equal((parseStorageUri('https://h/m.tar.gz') as { url: URL }).url.pathname, '/m.tar.gz');
  const signed = parseStorageUri('https://h/m.onnx?X-Amz-Signature=abc&X-Amz-Credential=AKIA') as {
    uri: string;
    url: URL;
  };
  assert.equal(signed.uri, 'https://h/m.onnx?<redacted>', 'a signed URL is never logged whole');
  assert.equal(signed.url.searchParams.get('X-Amz-Signature'), 'abc');
  assert.deepEqual(pvcClaims(['pvc://a/x', 'pvc://a/y', 's3://b/c', 'pvc://B/x']), ['a']);
});

test('bad URIs are refused with a fix', () => {
  const cases: [string, RegExp, RegExp][] = [
    ['azure://c/m', /the azure:\/\/ scheme is not supported/, /s3:\/\/bucket\/prefix/],
    ['s3://A_b/m', /"A_b" is not a bucket name/, /s3:\/\/bucket\/prefix/],
    ['s3://ok-bucket/../m', /are not object names/, /plain key/],
    ['https://user:pw@h/m', /credentials never go in the spec/, /models\.storage\.secret/],
    ['https://h/', /names no file/, /path of the model/],
    ['hf://only-org', /is not hf:\/\/org\/model@revision/, /hf:\/\/org\/model/],
    ['hf://a/b@x@y', /is not hf:\/\/org\/model@revision/, /hf:\/\/org\/model/],
    ['pvc://Bad_Claim/x', /is not a PersistentVolumeClaim name/, /pvc:\/\/<claim>/],
    ['pvc://c/../x', /leaves the claim/, /inside the claim/],
  ];
  for (const [uri, message, fix] of cases) {
    assert.throws(
      () => parseStorageUri(uri),
      (e: unknown) => e instanceof StorageUriError && message.test(e.message) && fix.test(e.fix),
      uri,
    );
  }
});
