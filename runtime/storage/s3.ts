// s3:// through the AWS SDK (signature v4, the default credential chain: AWS_* variables, shared
// files, web identity). An object is fetched in ranged parts, several at once (as `aws s3 cp`
// does), each pinned to the listed ETag with If-Match so an object replaced mid-download fails
// instead of mixing two versions; the file is checked against the listed size before it is used.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import type { BucketUri } from '../../operator/api/v1alpha1/index.ts';
import { StorageError, isDiskFull } from './fetch-file.ts';
import {
  env,
  type BucketReader,
  type Endpoints,
  type Listing,
  type RemoteFile,
  type StorageSource,
} from './sources.ts';

export const PART_BYTES = 8 * 2 ** 20;
export const PARTS_AT_ONCE = 8;

function s3Error(uri: string, error: unknown, what: string): StorageError {
  if (error instanceof StorageError) return error;
  const name = error instanceof S3ServiceException ? error.name : (error as Error).name;
  const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
  const detail = `${name}${status ? `, HTTP ${status}` : ''}`;
  if (name === 'NoSuchBucket')
    return new StorageError(
      `${uri}: the bucket does not exist (${detail})`,
      'check the bucket name and models.storage.s3Endpoint',
    );
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
    return new StorageError(`${uri}: not found (${detail}) ${what}`, 'check the key or prefix of the URI');
  }
  if (
    ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden', 'CredentialsProviderError'].includes(
      name,
    ) ||
    status === 403
  ) {
    return new StorageError(
      `${uri}: access denied (${detail}) ${what}`,
      'check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (locally: the environment; in a cluster: the Secret named by ' +
        'models.storage.secret) and that they may read the bucket',
    );
  }
  if (name === 'PreconditionFailed' || status === 412) {
    return new StorageError(
      `${uri}: the object changed while it was downloaded`,
      'start the replica again once the upload is done',
    );
  }
  return new StorageError(
    `${uri}: ${what} failed: ${(error as Error).message} (${detail})`,
    'check the endpoint, the network and the bucket',
  );
}

/** The complete ranges a ledger records for this ETag and size (none when it is for another version). */
function readLedger(ledger: string, part: string, etag: string | undefined, size: number): number[] {
  try {
    const kept = JSON.parse(readFileSync(ledger, 'utf8')) as { etag?: string; size: number; done: number[] };
    if (kept.etag === etag && kept.size === size && existsSync(part)) return kept.done;
  } catch {
    // none, or unreadable: start over
  }
  return [];
}

function s3Client(endpoints: Endpoints): S3Client {
  const endpoint = endpoints.s3 ?? env('AWS_ENDPOINT_URL_S3') ?? env('AWS_ENDPOINT_URL');
  return new S3Client({
    region: env('AWS_REGION') ?? env('AWS_DEFAULT_REGION') ?? 'us-east-1',
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    maxAttempts: 4,
  });
}

/** The objects whose keys start with `prefix`, a page (1,000) at a time; `uri` names them in errors. */
async function* objects(client: S3Client, bucket: string, prefix: string, uri: string): AsyncGenerator<RemoteFile> {
  let token: string | undefined;
  do {
    let page: ListObjectsV2CommandOutput;
    try {
      page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    } catch (error) {
      throw s3Error(uri, error, 'listing the bucket');
    }
    for (const o of page.Contents ?? []) {
      if (o.Key && !o.Key.endsWith('/')) yield { name: o.Key, size: o.Size, etag: o.ETag };
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** A bucket's keys and objects as a BatchJob's file lister reads them (runtime/batch/bucket-items.ts). */
export function s3Bucket(bucket: string, endpoints: Endpoints): BucketReader {
  const client = s3Client(endpoints);
  return {
    keys: (prefix) => objects(client, bucket, prefix, `s3://${bucket}/${prefix}`),
    async read(key) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return out.Body as AsyncIterable<Uint8Array>;
      } catch (error) {
        throw s3Error(`s3://${bucket}/${key}`, error, 'reading the object');
      }
    },
  };
}

export function s3Source(u: BucketUri, endpoints: Endpoints): StorageSource {
  const client = s3Client(endpoints);
  const keyOf = (file: RemoteFile) => (file.name === '' ? u.key : `${u.key === '' ? '' : `${u.key}/`}${file.name}`);
  return {
    async list(): Promise<Listing> {
      if (u.key !== '') {
        try {
          const head = await client.send(new HeadObjectCommand({ Bucket: u.bucket, Key: u.key }));
          return {
            version: head.ETag ?? '',
            single: true,
            files: [{ name: '', size: head.ContentLength, etag: head.ETag }],
          };
        } catch (error) {
          const e = s3Error(u.uri, error, 'reading the object');
          if (!/not found/.test(e.message)) throw e; // a prefix, then
        }
      }
      const prefix = u.key === '' ? '' : `${u.key}/`;
      const files: RemoteFile[] = [];
      for await (const o of objects(client, u.bucket, prefix, u.uri))
        files.push({ ...o, name: o.name.slice(prefix.length) });
      if (files.length === 0) {
        throw new StorageError(
          `${u.uri}: no object is named ${u.key || '(empty)'} or starts with ${prefix}`,
          'check the key or prefix of the URI',
        );
      }
      return { version: files.map((f) => `${f.name}@${f.etag}`).join(','), single: false, files };
    },

    async download(file, dest, onBytes) {
      await mkdir(path.dirname(dest), { recursive: true });
      const part = `${dest}.part`;
      // which ranges of the part are complete, for the same ETag: a replica killed mid-download
      // leaves them, and the next one fetches only the rest
      const ledger = `${dest}.part.json`;
      const size = file.size ?? 0;
      const kept = readLedger(ledger, part, file.etag, size);
      const done = new Set(kept);
      const handle = await open(part, kept.length > 0 ? 'r+' : 'w');
      let failed = false;
      try {
        const ranges: [number, number][] = [];
        for (let start = 0; start < size; start += PART_BYTES)
          ranges.push([start, Math.min(size, start + PART_BYTES) - 1]);
        if (ranges.length === 0) ranges.push([0, -1]); // an empty object: one plain GET
        let next = 0;
        const worker = async () => {
          while (next < ranges.length && !failed) {
            const index = next++;
            if (done.has(index)) continue;
            const [start, end] = ranges[index];
            try {
              await fetchRange(start, end);
            } catch (error) {
              failed = true; // the other workers stop after their current range
              throw error;
            }
            done.add(index);
            writeFileSync(ledger, JSON.stringify({ etag: file.etag, size, done: [...done] }));
          }
        };
        const fetchRange = async (start: number, end: number) => {
          let position = start;
          try {
            const out = await client.send(
              new GetObjectCommand({
                Bucket: u.bucket,
                Key: keyOf(file),
                ...(end >= start ? { Range: `bytes=${start}-${end}` } : {}),
                ...(file.etag ? { IfMatch: file.etag } : {}),
              }),
            );
            for await (const chunk of out.Body as AsyncIterable<Buffer>) {
              await handle.write(chunk, 0, chunk.length, position);
              position += chunk.length;
              onBytes(chunk.length);
            }
          } catch (error) {
            if (isDiskFull(error)) throw error; // the cache names the full disk (cache.ts)
            throw s3Error(u.uri, error, `downloading ${keyOf(file)}`);
          }
          if (end >= start && position !== end + 1) {
            throw new StorageError(
              `${u.uri}: ${keyOf(file)} came truncated (bytes ${start}-${end}: got ${position - start}); ` +
                'a truncated model is never served',
              'check the network and the storage server, then start the replica again',
            );
          }
        };
        const results = await Promise.allSettled(
          Array.from({ length: Math.min(PARTS_AT_ONCE, ranges.length) }, worker),
        );
        const rejected = results.find((r) => r.status === 'rejected');
        if (rejected) throw rejected.reason;
        const { size: got } = await handle.stat();
        if (got !== size) {
          throw new StorageError(
            `${u.uri}: ${keyOf(file)} is ${got} bytes on disk, ${size} in the bucket`,
            'start the replica again',
          );
        }
      } catch (error) {
        await handle.close();
        if (error instanceof StorageError && /changed while/.test(error.message)) {
          await rm(part, { force: true });
          await rm(ledger, { force: true });
        }
        throw error;
      }
      await handle.close();
      await rm(ledger, { force: true });
      await rename(part, dest);
    },
  };
}
