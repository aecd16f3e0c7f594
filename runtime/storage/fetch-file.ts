// One file over HTTP (https://, hf://, gs://'s JSON API), streamed to disk and resumable: bytes
// land in `<dest>.part`; a dropped connection, or a replica killed mid-download, resumes from the
// part's size with a Range request (If-Range: the ETag, so a changed file starts over). A body
// shorter than its Content-Length is a truncated download: retried, then refused. The complete
// file is renamed to `dest`, so a reader never sees half a model.
import { createWriteStream, renameSync, rmSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export class StorageError extends Error {
  readonly fix: string;
  constructor(message: string, fix: string) {
    super(message);
    this.name = 'StorageError';
    this.fix = fix;
  }
}

export interface FetchFileOptions {
  url: string;
  headers?: Record<string, string>;
  dest: string;
  /** The size the listing gave; undefined: trust Content-Length. */
  size?: number;
  etag?: string;
  /** What the user wrote (s3://..., hf://...): every error names it. */
  uri: string;
  onBytes?: (n: number) => void;
  attempts?: number;
}

/** HTTP statuses that mean the URI or its credentials are wrong, not that the network failed. */
export function statusError(uri: string, status: number, what: string): StorageError {
  if (status === 401 || status === 403) {
    return new StorageError(
      `${uri}: access denied (HTTP ${status}) ${what}`,
      "check the credentials (locally: the environment's; in a cluster: the Secret named by models.storage.secret) " +
        'and that they may read this object',
    );
  }
  if (status === 404) {
    return new StorageError(`${uri}: not found (HTTP 404) ${what}`, 'check the bucket, repository and path of the URI');
  }
  return new StorageError(`${uri}: HTTP ${status} ${what}`, 'check that the storage server is reachable and healthy');
}

/** A local write that failed for want of space (not the network): retrying or resuming cannot help. */
export function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

function partSize(part: string): number {
  try {
    return statSync(part).size;
  } catch {
    return 0;
  }
}

export async function fetchFile(o: FetchFileOptions): Promise<void> {
  await mkdir(path.dirname(o.dest), { recursive: true });
  const part = `${o.dest}.part`;
  const attempts = o.attempts ?? 4;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let have = partSize(part);
    if (o.size !== undefined && have > o.size) {
      rmSync(part, { force: true });
      have = 0;
    }
    if (o.size !== undefined && have === o.size && have > 0) break;
    const headers: Record<string, string> = { ...o.headers };
    if (have > 0) {
      headers.range = `bytes=${have}-`;
      if (o.etag !== undefined) headers['if-range'] = o.etag;
    }
    let response: Response;
    try {
      response = await fetch(o.url, { headers, redirect: 'follow' });
    } catch (error) {
      lastError = error;
      await sleep(200 * attempt);
      continue;
    }
    if (response.status === 416) {
      // the part is not a prefix of the file any more (it shrank or changed): start over
      await response.body?.cancel();
      rmSync(part, { force: true });
      continue;
    }
    if (response.status >= 400) {
      await response.body?.cancel();
      if (response.status < 500) throw statusError(o.uri, response.status, `downloading ${path.basename(o.dest)}`);
      lastError = statusError(o.uri, response.status, 'downloading');
      await sleep(200 * attempt);
      continue;
    }
    const resumed = response.status === 206;
    if (!resumed) have = 0; // 200: the server sent the whole file (no Range support, or it changed)
    const length = Number(response.headers.get('content-length') ?? NaN);
    const expected = o.size ?? (Number.isFinite(length) ? have + length : undefined);
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        o.onBytes?.(chunk.length);
        done(null, chunk);
      },
    });
    try {
      await pipeline(
        Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
        counter,
        createWriteStream(part, { flags: resumed ? 'a' : 'w', highWaterMark: 1 << 20 }),
      );
    } catch (error) {
      if (isDiskFull(error)) throw error; // the cache's caller names the full disk (cache.ts)
      lastError = error; // the connection dropped: the next attempt resumes from the part's size
      await sleep(200 * attempt);
      continue;
    }
    const got = partSize(part);
    if (expected === undefined || got === expected) {
      renameSync(part, o.dest);
      return;
    }
    lastError = new Error(`got ${got} of ${expected} bytes`);
    if (got > expected) rmSync(part, { force: true });
  }
  if (o.size !== undefined && partSize(part) === o.size) {
    renameSync(part, o.dest);
    return;
  }
  const why = lastError instanceof Error ? lastError.message : String(lastError);
  throw new StorageError(
    `${o.uri}: the download of ${path.basename(o.dest)} stopped short after ${attempts} attempts (${why}); ` +
      'a truncated model is never served',
    'check the network and the server; the next start resumes where this one stopped',
  );
}
