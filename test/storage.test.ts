// Models from storage (issue 17) through `cortex serve`, against real servers on loopback: moto's
// S3 server, fake-gcs-server, and a node:http server with Range requests (https:// and the
// Hugging Face Hub's API): each scheme, onnx, the node cache, live reloading. Each replica
// downloads into a private model cache before any worker starts; the predictor
// (test/fixtures/storage) answers with the files it loaded. Failures: storage-failures.test.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { postJson, repoRoot, serve, waitFor } from './helpers/serve.ts';
import { loadedModel, startAll, storageProject, tarGz, type Cleanups } from './helpers/storage-project.ts';
import { S3_CREDENTIALS, putS3, startFakeGcs, startFileServer, startMoto } from './helpers/storage-servers.ts';

const cleanups: Cleanups = [];
const project = (models: Record<string, unknown>, type?: string, file?: string) =>
  storageProject(cleanups, models, type, file);
const model = loadedModel;

let moto: Awaited<ReturnType<typeof startMoto>>;
let gcs: Awaited<ReturnType<typeof startFakeGcs>>;
let web: Awaited<ReturnType<typeof startFileServer>>;

before(async () => {
  [moto, gcs, web] = await startAll(cleanups, [() => startMoto(), startFakeGcs, startFileServer] as const);
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

  test('gs:// at the endpoint models.storage.gcs_endpoint names (no environment)', async () => {
    await gcs.put('gbucket', { 'spec/model.txt': 'gcs model, endpoint from the spec' });
    const p = project({ path: 'gs://gbucket/spec/model.txt', storage: { gcs_endpoint: gcs.url } });
    const s = await serve(p.dir, { env: p.env });
    try {
      assert.deepEqual(await model(s), { 'model.txt': 'gcs model, endpoint from the spec' });
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
  test('hf:// at the endpoint models.storage.hf_endpoint names (no environment)', async () => {
    web.files.set('/hf/acme/spec/config.json', Buffer.from('{"from": "spec"}'));
    const p = project({ path: 'hf://acme/spec@main', storage: { hf_endpoint: web.url } });
    const s = await serve(p.dir, { env: p.env });
    try {
      assert.deepEqual(await model(s), { 'config.json': '{"from": "spec"}' });
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

describe('a predictor without a model client', { concurrency: false }, () => {
  test('gets the downloaded file at config["model_path"] and opens it itself', async () => {
    web.files.set('/own/weights.txt', Buffer.from('weights v1'));
    const fixture = path.join(repoRoot, 'test', 'fixtures', 'storage', 'config_predictor.py');
    const p = project({ path: `${web.url}/own/weights.txt` }, 'python', fixture);
    const s = await serve(p.dir, { env: p.env });
    try {
      const r = await postJson(s.url, {});
      const body = (await r.json()) as { model_path: string; text: string; is_file: boolean };
      assert.equal(r.status, 200, JSON.stringify(body));
      assert.equal(body.text, 'weights v1');
      assert.equal(body.is_file, true);
      assert.match(body.model_path, /\/weights\.txt$/);
      assert.doesNotMatch(body.model_path, /^https?:/, 'a local path, not the URI');
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
      // the signal a cluster's Prometheus (or the operator) reads; the reason is in the log
      const gauge = async () =>
        /^cortex_model_reload_failing\{api="stored",model="\(path\)"\} (\d)$/m.exec(
          await (await fetch(`${s.url}/metrics`)).text(),
        )?.[1];
      assert.equal(await gauge(), '1');
      await moto.s3.send(new PutObjectCommand({ Bucket: 'live', Key: 'm/model.txt', Body: 'version 3' }));
      await waitFor('version 3 served', async () => ((await model(s))['model.txt'] === 'version 3' ? true : undefined));
      assert.equal(await gauge(), '0', 'a version that loads clears it');
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
