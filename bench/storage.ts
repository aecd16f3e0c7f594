// npm run bench:storage [-- --mb 500 --rounds 2 --json]
//
// Models from storage (issue 17, docs/models.md#models-from-storage): a model of --mb MiB in
// moto's S3 server on loopback (the tests' server, test/helpers/storage-servers.ts), uploaded in
// multipart parts as a real upload is.
//   1. download throughput: `aws s3 cp` (awscli from PyPI, its default 10 concurrent 8 MiB
//      ranges) against the runtime's downloader (runtime/storage: the AWS SDK, 8 at once) into an
//      empty cache, alternating, each round a fresh target;
//   2. a replica's start: `cortex serve` with models.path: s3://... on an empty node cache (it
//      downloads), then a second replica on the same cache: the "models" part of its startupMs.
// Goals: >= 0.9x awscli's throughput; a cached model adds < 1 s to a replica's start.
import { mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { parseStorageUri, type BucketUri } from '../operator/api/v1alpha1/index.ts';
import { JsonLogger } from '../operator/util/log.ts';
import { cachedModel } from '../runtime/storage/cache.ts';
import { s3Source } from '../runtime/storage/s3.ts';
import { ensurePypiTool } from '../test/helpers/pypi-tool.ts';
import { serve } from '../test/helpers/serve.ts';
import { S3_CREDENTIALS, startMoto } from '../test/helpers/storage-servers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});
const MB = Number(values.mb);
const ROUNDS = Number(values.rounds);
const log = (line: string) => process.stderr.write(`${line}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'cortex-bench-storage-'));
  log('installing awscli (PyPI) and starting moto_server');
  const [aws, moto] = await Promise.all([
    ensurePypiTool({
      command: 'aws',
      distribution: 'awscli',
      version: '1.46.2',
      dirEnv: 'CORTEX_AWSCLI_DIR',
      checkVersion: false,
    }),
    startMoto(),
  ]);
  try {
    log(`uploading a ${MB} MiB model (multipart, 8 MiB parts)`);
    await moto.s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
    const part = Buffer.alloc(8 * 2 ** 20);
    for (let i = 0; i < part.length; i += 4) part.writeUInt32LE((i * 2654435761) >>> 0, i);
    const { UploadId } = await moto.s3.send(new CreateMultipartUploadCommand({ Bucket: 'bench', Key: 'model.bin' }));
    const parts = [];
    for (let n = 1, left = MB * 2 ** 20; left > 0; n++, left -= part.length) {
      const body = part.subarray(0, Math.min(part.length, left));
      const { ETag } = await moto.s3.send(
        new UploadPartCommand({ Bucket: 'bench', Key: 'model.bin', UploadId, PartNumber: n, Body: body }),
      );
      parts.push({ ETag, PartNumber: n });
    }
    await moto.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'bench',
        Key: 'model.bin',
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    const uri = 's3://bench/model.bin';
    const env = { ...process.env, ...S3_CREDENTIALS, AWS_ENDPOINT_URL: moto.url };
    const awsS: number[] = [];
    const oursS: number[] = [];
    const logger = new JsonLogger({ sink: () => {} });
    for (let round = 1; round <= ROUNDS; round++) {
      const target = path.join(work, `aws-${round}.bin`);
      let t = performance.now();
      // the venv's python: bin/aws's #! names the folder ensurePypiTool built it in
      await execa(
        path.join(path.dirname(aws), 'python'),
        ['-m', 'awscli', 's3', 'cp', '--only-show-errors', uri, target, '--endpoint-url', moto.url],
        { env },
      );
      awsS.push((performance.now() - t) / 1000);
      rmSync(target, { force: true });
      Object.assign(process.env, S3_CREDENTIALS);
      const source = s3Source(parseStorageUri(uri) as BucketUri, { s3: moto.url });
      const root = path.join(work, `cache-${round}`);
      t = performance.now();
      await cachedModel(uri, source, await source.list(), { root, logger });
      oursS.push((performance.now() - t) / 1000);
      rmSync(root, { recursive: true, force: true });
      log(`round ${round}: awscli ${awsS.at(-1)!.toFixed(2)} s, cortex ${oursS.at(-1)!.toFixed(2)} s`);
    }
    log('a replica on an empty node cache, then a second one on the same cache');
    const project = path.join(work, 'project');
    const cache = path.join(work, 'node-cache');
    rmSync(project, { recursive: true, force: true });
    await execa('mkdir', ['-p', project]);
    copyFileSync(path.join(here, 'storage', 'project', 'predictor.py'), path.join(project, 'predictor.py'));
    writeFileSync(
      path.join(project, 'cortex.yaml'),
      `- name: big\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n` +
        `    models: {path: "${uri}", storage: {s3_endpoint: "${moto.url}"}}\n`,
    );
    const startup: { models: number; total: number }[] = [];
    for (let i = 0; i < 2; i++) {
      const s = await serve(project, { env: { ...S3_CREDENTIALS, CORTEX_CACHE_DIR: cache }, timeoutMs: 600_000 });
      const ready = s.logs().find((l) => /is ready/.test(String(l.message))) as {
        startupMs: { models: number; total: number };
      };
      startup.push(ready.startupMs);
      await s.stop();
    }
    const mib = MB;
    const result = {
      mib,
      rounds: ROUNDS,
      awscliSeconds: median(awsS),
      cortexSeconds: median(oursS),
      awscliMiBs: mib / median(awsS),
      cortexMiBs: mib / median(oursS),
      ratio: median(awsS) / median(oursS),
      firstReplicaModelsMs: startup[0].models,
      cachedReplicaModelsMs: startup[1].models,
    };
    const pass = result.ratio >= 0.9 && result.cachedReplicaModelsMs < 1000;
    if (values.json) process.stdout.write(`${JSON.stringify({ ...result, pass })}\n`);
    else {
      process.stdout.write(
        [
          `model ${mib} MiB in moto's S3 server on loopback, ${ROUNDS} rounds (medians)`,
          `  aws s3 cp        ${result.awscliSeconds.toFixed(2)} s  ${result.awscliMiBs.toFixed(0)} MiB/s`,
          `  cortex download  ${result.cortexSeconds.toFixed(2)} s  ${result.cortexMiBs.toFixed(0)} MiB/s  ` +
            `(${result.ratio.toFixed(2)}x awscli; goal >= 0.9x)`,
          `  replica start, models step: empty cache ${result.firstReplicaModelsMs} ms, ` +
            `cached ${result.cachedReplicaModelsMs} ms (goal < 1000 ms)`,
          pass ? 'PASS' : 'FAIL',
          '',
        ].join('\n'),
      );
    }
  } finally {
    await moto.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
