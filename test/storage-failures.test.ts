// Models from storage (issue 17): what goes wrong (each bad input stops the replica before any
// worker starts, naming the URI and the fix), resuming downloads, and the local environment's
// view of both, against moto's S3 server and a node:http server on loopback.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { parseStorageUri } from '../operator/api/v1alpha1/index.ts';
import { apiLogger } from '../operator/util/log.ts';
import { prepareModels, sourceFor } from '../runtime/storage/prepare.ts';
import { localEnv } from './helpers/local.ts';
import { serve, serveFailure, waitFor } from './helpers/serve.ts';
import { loadedModel, startAll, storageProject, type Cleanups } from './helpers/storage-project.ts';
import { S3_CREDENTIALS, putS3, startFileServer, startMoto } from './helpers/storage-servers.ts';

const cleanups: Cleanups = [];
const project = (models: Record<string, unknown>, type?: string, file?: string) =>
  storageProject(cleanups, models, type, file);
const model = loadedModel;

let moto: Awaited<ReturnType<typeof startMoto>>;
let web: Awaited<ReturnType<typeof startFileServer>>;

before(async () => {
  [moto, web] = await startAll(cleanups, [() => startMoto(), startFileServer] as const);
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
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

    test('the disk filling up during the download (ENOSPC on a real 8 MiB tmpfs)', async (t) => {
      if (process.getuid?.() !== 0) return t.skip('mounting a tmpfs needs root');
      web.files.set('/fill/model.bin', Buffer.alloc(6 * 2 ** 20, 2));
      web.throttle.set('/fill/model.bin', 512 * 1024);
      const p = project({ path: `${web.url}/fill/model.bin` });
      const cache = p.env.CORTEX_MODEL_CACHE_DIR;
      mkdirSync(cache, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', cache]);
      cleanups.push(() => void execFileSync('umount', ['-l', cache]));
      const failing = serveFailure(p.dir, { env: p.env });
      // 6 MiB fit the 8 MiB when the download starts; then another writer takes the rest of the disk
      const part = await waitFor('the download to start', async () => findPart(path.join(cache, 'models')));
      assert.ok(part);
      const filler = path.join(cache, 'filler');
      try {
        for (;;) appendFileSync(filler, Buffer.alloc(256 * 1024));
      } catch (error) {
        assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
      }
      const error = await failing;
      assert.equal(error.code, 1);
      const reason = readFileSync(error.terminationLog, 'utf8');
      assert.match(
        reason,
        /^model download failed: predictor\.models\.path: http:\/\/127\.0\.0\.1:\d+\/fill\/model\.bin: the disk of the model cache \(.*\.cache\) filled up during the download; fix: free space on that disk/,
      );
      assert.doesNotMatch(error.out, /worker|is ready/, 'no worker started');
      assert.deepEqual(readdirSync(path.join(cache, 'models')), [], 'no partial download is left in the cache');
    });
  },
);

/** The first `.part` file under `dir`, if any. */
function findPart(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).find((n) => n.endsWith('.part'));
}

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

describe('reloading', { concurrency: false }, () => {
  test('a new version that cannot be downloaded is reported failing (the metric), cleared once one is', async () => {
    web.files.set('/reload/model.bin', Buffer.from('v1'));
    const p = project({});
    const lines: string[] = [];
    const reports: [string, boolean][] = [];
    const prepared = await prepareModels(
      { path: `${web.url}/reload/model.bin`, reloadInterval: '100ms' },
      {
        liveDir: path.join(p.dir, 'live'),
        cacheRoot: p.env.CORTEX_MODEL_CACHE_DIR,
        logger: apiLogger('stored', 'info', (l) => void lines.push(l)),
        onReload: (model, failing) => void reports.push([model, failing]),
      },
    );
    cleanups.push(() => prepared?.stop());
    const local = prepared!.models.path!;
    web.files.set('/reload/model.bin', Buffer.from('v2'));
    web.authorization = 'Bearer right'; // the new version: 403 without the header
    try {
      await waitFor('the failure reported', async () => (reports.some(([, f]) => f) ? true : undefined));
      assert.deepEqual(reports[0], ['(path)', true]);
      assert.match(lines.join(''), /the new version of .*reload\/model\.bin could not be downloaded.*access denied/);
      assert.equal(readFileSync(local, 'utf8'), 'v1', 'the old version stays');
    } finally {
      web.authorization = undefined;
    }
    await waitFor('the new version downloaded', async () => (reports.at(-1)?.[1] === false ? true : undefined));
    assert.equal(readFileSync(local, 'utf8'), 'v2');
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

  test('cortex get: a new version that fails to load keeps the old one serving and says why', async () => {
    const local = await localEnv();
    cleanups.push(() => local.cleanup());
    await putS3(moto.s3, 'live-local', { 'm/model.txt': 'version 1' });
    const p = project({ path: 's3://live-local/m', reload_interval: '200ms', storage: { s3_endpoint: moto.url } });
    const env = { ...p.env, ...S3_CREDENTIALS };
    const deployed = await local.cortex(['deploy', p.dir], { env });
    assert.equal(deployed.code, 0, deployed.stderr);
    const served = async () => {
      const r = await fetch(local.url('/stored'), { method: 'POST', body: '{}' });
      return ((await r.json()) as { model: Record<string, string> }).model['model.txt'];
    };
    assert.equal(await served(), 'version 1');
    await moto.s3.send(new PutObjectCommand({ Bucket: 'live-local', Key: 'm/model.txt', Body: 'broken' }));
    const json = await waitFor('cortex get -o json to say why the new version is not served', async () => {
      const get = await local.cortex(['get', 'stored', '-o', 'json']);
      return /"reloadErrors"/.test(get.stdout) ? get.stdout : undefined;
    });
    assert.match(json, /the model( version \S+)? failed to load from [^"]*: ValueError: this model is broken/);
    assert.equal(await served(), 'version 1', 'the old version keeps serving');
    const text = await local.cortex(['get', 'stored']);
    assert.match(text.stdout, /ready, a new model version failed/);
    assert.match(text.stdout, /failed to load from .*ValueError: this model is broken/);
    await moto.s3.send(new PutObjectCommand({ Bucket: 'live-local', Key: 'm/model.txt', Body: 'version 3' }));
    await waitFor('version 3 served', async () => ((await served()) === 'version 3' ? true : undefined));
    const healed = await local.cortex(['get', 'stored', '-o', 'json']);
    assert.doesNotMatch(healed.stdout, /reloadErrors/, 'a version that loads clears the reason');
  });
});
