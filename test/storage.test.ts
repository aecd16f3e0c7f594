// Models from storage (issue 17) through `cortex serve`, against real servers on loopback: moto's
// S3 server, fake-gcs-server, and a node:http server with Range requests (https:// and the
// Hugging Face Hub's API). Each replica downloads into a private model cache before any worker
// starts; the predictor (test/fixtures/storage) answers with the files it loaded.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { pack } from 'tar-stream';
import { parseStorageUri } from '../operator/api/v1alpha1/index.ts';
import { sourceFor } from '../runtime/storage/prepare.ts';
import { localEnv } from './helpers/local.ts';
import { postJson, repoRoot, serve, serveFailure, waitFor, type Served } from './helpers/serve.ts';
import { S3_CREDENTIALS, putS3, startFakeGcs, startFileServer, startMoto } from './helpers/storage-servers.ts';

const predictor = path.join(repoRoot, 'test', 'fixtures', 'storage', 'predictor.py');
const cleanups: (() => Promise<void> | void)[] = [];

/** A project whose one API's predictor.models is `models`, and a private model cache. */
function project(
  models: Record<string, unknown>,
  type = 'python',
  predictorFile = predictor,
): { dir: string; env: Record<string, string> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'cortex-storage-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(predictorFile, path.join(dir, 'predictor.py'));
  const yaml = [
    '- name: stored',
    '  kind: RealtimeAPI',
    '  predictor:',
    `    type: ${type}`,
    '    path: predictor.py',
    `    models: ${JSON.stringify(models)}`,
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'cortex.yaml'), yaml);
  return { dir, env: { CORTEX_MODEL_CACHE_DIR: path.join(dir, '.cache') } };
}

async function model(s: Served): Promise<Record<string, string>> {
  const r = await postJson(s.url, {});
  assert.equal(r.status, 200, await r.clone().text());
  return ((await r.json()) as { model: Record<string, string> }).model;
}

async function tarGz(files: Record<string, string>): Promise<Buffer> {
  const p = pack();
  for (const [name, body] of Object.entries(files)) p.entry({ name }, body);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

let moto: Awaited<ReturnType<typeof startMoto>>;
let gcs: Awaited<ReturnType<typeof startFakeGcs>>;
let web: Awaited<ReturnType<typeof startFileServer>>;

before(async () => {
  const started = await Promise.allSettled([startMoto(), startFakeGcs(), startFileServer()]);
  for (const s of started) if (s.status === 'fulfilled') cleanups.push(() => s.value.stop());
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  [moto, gcs, web] = started.map((s) => (s as PromiseFulfilledResult<never>).value);
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('each scheme end to end', { concurrency: false }, () => {
  test('s3:// prefix with a multipart object: downloaded with sigv4, checked, loaded', async () => {
    await putS3(moto.s3, 'models', { 'iris/model.txt': 'iris v1' });
    const big = Buffer.alloc(5 * 2 ** 20 + 1000, 7);
    const { UploadId } = await moto.s3.send(
      new CreateMultipartUploadCommand({ Bucket: 'models', Key: 'iris/weights.bin' }),
    );
    const parts = [];
    for (const [i, body] of [big.subarray(0, 5 * 2 ** 20), big.subarray(5 * 2 ** 20)].entries()) {
      const { ETag } = await moto.s3.send(
        new UploadPartCommand({ Bucket: 'models', Key: 'iris/weights.bin', UploadId, PartNumber: i + 1, Body: body }),
      );
      parts.push({ ETag, PartNumber: i + 1 });
    }
    await moto.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'models',
        Key: 'iris/weights.bin',
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    const p = project({ path: 's3://models/iris', storage: { s3_endpoint: moto.url } });
    const s = await serve(p.dir, { env: { ...p.env, ...S3_CREDENTIALS } });
    try {
      const m = await model(s);
      assert.equal(m['model.txt'], 'iris v1');
      assert.match(m['weights.bin'], new RegExp(`^${big.length} bytes`));
      assert.match(s.stdout(), /downloaded s3:\/\/models\/iris: 5\.0 MiB/);
      assert.doesNotMatch(s.stdout() + s.stderr(), /testing/, 'credentials never reach the logs');
    } finally {
      await s.stop();
    }
  });

  test('gs:// one object through the JSON API (STORAGE_EMULATOR_HOST)', async () => {
    await gcs.put('gbucket', { 'm/model.txt': 'gcs model' });
    const p = project({ path: 'gs://gbucket/m/model.txt' });
    const s = await serve(p.dir, { env: { ...p.env, STORAGE_EMULATOR_HOST: gcs.url } });
    try {
      assert.deepEqual(await model(s), { 'model.txt': 'gcs model' });
    } finally {
      await s.stop();
    }
  });

  test('https:// .tar.gz archive: a dropped connection resumes with Range, then unpacked', async () => {
    const archive = await tarGz({ 'model.txt': 'from the archive', 'sub/extra.txt': 'x'.repeat(300) });
    web.files.set('/a/model.tar.gz', archive);
    web.cut.set('/a/model.tar.gz', { bytes: 100, times: 1 });
    const p = project({ path: `${web.url}/a/model.tar.gz` });
    const s = await serve(p.dir, { env: p.env });
    try {
      const m = await model(s);
      assert.equal(m['model.txt'], 'from the archive');
      assert.match(m['sub/extra.txt'], /^300 bytes/);
      const gets = web.requests.filter((r) => r.path === '/a/model.tar.gz' && r.method === 'GET');
      assert.deepEqual(
        gets.map((g) => g.range),
        [undefined, 'bytes=100-'],
        'the second request resumed where the first one stopped',
      );
    } finally {
      await s.stop();
    }
  });

  test('hf://org/model@revision through the Hub API at HF_ENDPOINT', async () => {
    web.files.set('/hf/acme/tiny/config.json', Buffer.from('{"layers": 2}'));
    web.files.set('/hf/acme/tiny/weights/model.bin', Buffer.from('hub weights'));
    const p = project({ path: 'hf://acme/tiny@main' });
    const s = await serve(p.dir, { env: { ...p.env, HF_ENDPOINT: web.url } });
    try {
      assert.deepEqual(await model(s), { 'config.json': '{"layers": 2}', 'weights/model.bin': 'hub weights' });
    } finally {
      await s.stop();
    }
  });
});

describe('onnx', { concurrency: false }, () => {
  test('onnx_client runs a .onnx file downloaded over https', async () => {
    web.files.set('/mlp/model.onnx', readFileSync(path.join(repoRoot, 'bench', 'fixtures', 'onnx-mlp', 'model.onnx')));
    const sample = JSON.parse(
      readFileSync(path.join(repoRoot, 'bench', 'fixtures', 'onnx-mlp', 'sample.json'), 'utf8'),
    );
    const onnxPredictor = path.join(repoRoot, 'runtime', 'workers', 'fixtures', 'models', 'onnx_predictor.py');
    const p = project({ path: `${web.url}/mlp/model.onnx` }, 'onnx', onnxPredictor);
    const s = await serve(p.dir, { env: p.env, timeoutMs: 300_000 });
    try {
      const r = await postJson(s.url, { input: [sample.features] });
      assert.equal(r.status, 200, await r.clone().text());
      const body = (await r.json()) as { label: number; probabilities: number; inputs: string[] };
      assert.deepEqual([body.probabilities, body.inputs], [10, ['input']]);
    } finally {
      await s.stop();
    }
  });
});

describe('the node cache', { concurrency: false }, () => {
  test('two replicas started together download once; a third starts from the cache', async () => {
    web.files.set('/shared/model.txt', Buffer.from('shared'));
    const p = project({ path: `${web.url}/shared/model.txt` });
    const count = () => web.requests.filter((r) => r.path === '/shared/model.txt' && r.method === 'GET').length;
    const [a, b] = await Promise.all([serve(p.dir, { env: p.env }), serve(p.dir, { env: p.env })]);
    try {
      assert.deepEqual([await model(a), await model(b)], [{ 'model.txt': 'shared' }, { 'model.txt': 'shared' }]);
      assert.equal(count(), 1, 'one download for both replicas');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    const c = await serve(p.dir, { env: p.env });
    try {
      assert.deepEqual(await model(c), { 'model.txt': 'shared' });
      assert.equal(count(), 1);
      assert.match(c.stdout(), /found in the model cache/);
      const ready = c.logs().find((l) => /is ready/.test(String(l.message))) as { startupMs: { models: number } };
      assert.ok(ready.startupMs.models < 1000, `a cached model added ${ready.startupMs.models} ms`);
    } finally {
      await c.stop();
    }
  });
});

describe(
  'bad input: the replica exits before any worker starts, naming the URI and the fix',
  { concurrency: false },
  () => {
    const fails = async (
      models: Record<string, unknown>,
      env: Record<string, string>,
      message: RegExp,
      fix: RegExp,
    ) => {
      const p = project(models);
      const error = await serveFailure(p.dir, { env: { ...p.env, ...env } });
      assert.equal(error.code, 1);
      const reason = readFileSync(error.terminationLog, 'utf8');
      assert.match(reason, /^model download failed: predictor\.models\.path: /);
      assert.match(reason, message);
      assert.match(reason, fix);
      assert.doesNotMatch(error.out, /worker|is ready/, 'no worker started');
      const cache = path.join(p.env.CORTEX_MODEL_CACHE_DIR, 'models');
      const complete = existsSync(cache) ? readdirSync(cache).filter((n) => /^[0-9a-f]{32}$/.test(n)) : [];
      assert.deepEqual(complete, [], 'nothing half-downloaded is left as a model');
    };

    test('a missing bucket', () =>
      fails(
        { path: 's3://no-such-bucket/m', storage: { s3_endpoint: moto.url } },
        S3_CREDENTIALS,
        /s3:\/\/no-such-bucket\/m: the bucket does not exist/,
        /fix: check the bucket name/,
      ));

    test('a signed URL: its query never reaches the logs or the reason', async () => {
      const p = project({ path: `${web.url}/nothing/signed.onnx?X-Amz-Signature=s3cr3t` });
      const error = await serveFailure(p.dir, { env: p.env });
      assert.match(readFileSync(error.terminationLog, 'utf8'), /signed\.onnx\?<redacted>: not found \(HTTP 404\)/);
      assert.doesNotMatch(error.out + error.err, /s3cr3t/);
    });

    test('a missing object', () =>
      fails(
        { path: `${web.url}/nothing/here.onnx` },
        {},
        /nothing\/here\.onnx: not found \(HTTP 404\)/,
        /fix: check the bucket, repository and path/,
      ));

    test('wrong S3 credentials (moto checking keys and signatures)', async () => {
      const strict = await startMoto({ checkCredentials: true });
      cleanups.push(() => strict.stop());
      await fails(
        { path: 's3://models/iris', storage: { s3_endpoint: strict.url } },
        { AWS_ACCESS_KEY_ID: 'AKIAWRONGWRONGWRONG1', AWS_SECRET_ACCESS_KEY: 'wrong-secret', AWS_REGION: 'us-east-1' },
        /s3:\/\/models\/iris: access denied \(\w+, HTTP 403\)/,
        /fix: check AWS_ACCESS_KEY_ID \/ AWS_SECRET_ACCESS_KEY/,
      );
    });

    test('wrong credentials', async () => {
      web.files.set('/private/model.txt', Buffer.from('secret model'));
      web.authorization = 'Bearer right';
      try {
        await fails(
          { path: `${web.url}/private/model.txt` },
          { STORAGE_HTTP_AUTHORIZATION: 'Bearer wrong' },
          /private\/model\.txt: access denied \(HTTP 403\)/,
          /fix: check the credentials/,
        );
      } finally {
        web.authorization = undefined;
      }
    });

    test('a truncated download (every attempt cut short)', async () => {
      web.files.set('/cut/model.bin', Buffer.alloc(10_000, 1));
      web.cut.set('/cut/model.bin', { bytes: 10, times: 100 });
      try {
        await fails(
          { path: `${web.url}/cut/model.bin` },
          {},
          /stopped short after 4 attempts.*a truncated model is never served/,
          /fix: check the network/,
        );
      } finally {
        web.cut.delete('/cut/model.bin');
      }
    });

    test('a model bigger than the cache may hold (a full disk)', async () => {
      web.files.set('/big/model.bin', Buffer.alloc(50_000, 1));
      await fails(
        { path: `${web.url}/big/model.bin` },
        { CORTEX_MODEL_CACHE_MAX_SIZE: '10k' },
        /model\.bin is 48\.8 KiB, more than the model cache may hold/,
        /fix: raise CORTEX_MODEL_CACHE_MAX_SIZE/,
      );
    });
  },
);

describe('resuming', { concurrency: false }, () => {
  test('a replica killed mid-download leaves the part; the next one resumes it with Range', async () => {
    web.files.set('/resume/model.bin', Buffer.alloc(10_000, 3));
    web.cut.set('/resume/model.bin', { bytes: 1000, times: 4 });
    const p = project({ path: `${web.url}/resume/model.bin` });
    const first = await serveFailure(p.dir, { env: p.env });
    assert.equal(first.code, 1);
    const s = await serve(p.dir, { env: p.env });
    try {
      assert.match((await model(s))['model.bin'], /^10000 bytes/);
      const ranges = web.requests
        .filter((r) => r.path === '/resume/model.bin' && r.method === 'GET')
        .map((r) => r.range);
      assert.deepEqual(ranges, [undefined, 'bytes=1000-', 'bytes=2000-', 'bytes=3000-', 'bytes=4000-']);
    } finally {
      await s.stop();
    }
  });
});

describe('resuming s3://', { concurrency: false }, () => {
  test('a download stopped midway keeps its complete ranges; the next fetches only the rest', async () => {
    const body = Buffer.alloc(40 * 2 ** 20);
    for (let i = 0; i < body.length; i += 4) body.writeUInt32LE(i, i);
    await putS3(moto.s3, 'resume', { 'big.bin': body });
    Object.assign(process.env, S3_CREDENTIALS);
    const source = await sourceFor(parseStorageUri('s3://resume/big.bin'), { s3: moto.url });
    const [file] = (await source.list()).files;
    const dir = mkdtempSync(path.join(tmpdir(), 'cortex-s3-resume-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const dest = path.join(dir, 'big.bin');
    let first = 0;
    await assert.rejects(
      source.download(file, dest, (n) => {
        first += n;
        // stopped once one range is complete (8 run at once: by bytes, none might be)
        if (existsSync(`${dest}.part.json`)) throw new Error('the replica was stopped');
      }),
      /the replica was stopped/,
    );
    assert.equal(existsSync(dest), false, 'nothing half-downloaded under the final name');
    let second = 0;
    await source.download(file, dest, (n) => (second += n));
    assert.ok(second < body.length, `the second download fetched ${second} of ${body.length} bytes`);
    assert.ok(first + second >= body.length);
    assert.ok(readFileSync(dest).equals(body), 'the resumed file is the object');
    assert.deepEqual(readdirSync(dir), ['big.bin'], 'the part and its ledger are gone');
  });
});

describe('the local environment', { concurrency: false }, () => {
  test('cortex deploy: a model that cannot be downloaded fails the deploy, the reason in cortex get', async () => {
    const local = await localEnv();
    cleanups.push(() => local.cleanup());
    const p = project({ path: `${web.url}/gone/model.onnx` });
    const r = await local.cortex(['deploy', p.dir], { env: p.env });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /model download failed: predictor\.models\.path: .*gone\/model\.onnx: not found \(HTTP 404\)/,
    );
    const get = await local.cortex(['get', 'stored', '-o', 'json']);
    assert.match(get.stdout + get.stderr, /model download failed: .*not found \(HTTP 404\)/);
  });

  test('cortex get shows a download in progress on the starting replica', async () => {
    const local = await localEnv();
    cleanups.push(() => local.cleanup());
    web.files.set('/slow/model.bin', Buffer.alloc(4 * 2 ** 20, 5));
    web.throttle.set('/slow/model.bin', 128 * 1024);
    const p = project({ path: `${web.url}/slow/model.bin` });
    const deploying = local.cortex(['deploy', p.dir], { env: p.env });
    const seen = await waitFor('cortex get to show the download', async () => {
      const get = await local.cortex(['get', 'stored']);
      return /starting: downloading http:\/\/127\.0\.0\.1:\d+\/slow\/model\.bin/.exec(get.stdout)?.[0];
    });
    assert.ok(seen);
    const deployed = await deploying;
    assert.equal(deployed.code, 0, deployed.stderr);
    const r = await fetch(local.url('/stored'), {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    assert.match(((await r.json()) as { model: Record<string, string> }).model['model.bin'], /^4194304 bytes/);
  });
});

describe('live reloading', { concurrency: false }, () => {
  test('a changed object is downloaded and served; a broken one keeps the old one serving', async () => {
    await putS3(moto.s3, 'live', { 'm/model.txt': 'version 1' });
    const p = project({ path: 's3://live/m', reload_interval: '200ms', storage: { s3_endpoint: moto.url } });
    const s = await serve(p.dir, { env: { ...p.env, ...S3_CREDENTIALS } });
    try {
      assert.deepEqual(await model(s), { 'model.txt': 'version 1' });
      await moto.s3.send(new PutObjectCommand({ Bucket: 'live', Key: 'm/model.txt', Body: 'version 2' }));
      await waitFor('version 2 served', async () => ((await model(s))['model.txt'] === 'version 2' ? true : undefined));
      await moto.s3.send(new PutObjectCommand({ Bucket: 'live', Key: 'm/model.txt', Body: 'broken' }));
      await waitFor('the broken version refused', async () => (/failed to load/.test(s.stdout()) ? true : undefined));
      assert.deepEqual(await model(s), { 'model.txt': 'version 2' }, 'the old version keeps serving');
      assert.match(s.stdout(), /this model is broken/);
    } finally {
      await s.stop();
    }
  });

  test('a new integer version folder under an s3:// prefix becomes "latest" (Cortex 0.25 style)', async () => {
    await putS3(moto.s3, 'versions', { 'm/1/model.txt': 'v1' });
    const p = project({ path: 's3://versions/m', reload_interval: '200ms', storage: { s3_endpoint: moto.url } });
    const s = await serve(p.dir, { env: { ...p.env, ...S3_CREDENTIALS } });
    try {
      assert.deepEqual(await model(s), { 'model.txt': 'v1' });
      await putS3(moto.s3, 'versions', { 'm/2/model.txt': 'v2' });
      await waitFor('version 2 is latest', async () => ((await model(s))['model.txt'] === 'v2' ? true : undefined));
    } finally {
      await s.stop();
    }
  });
});
