// A BatchJob's items from buckets (Cortex's file_path_lister and delimited_files): the objects
// under each of s3Paths (s3:// or gs://, each a key prefix as in Cortex), kept by includes and
// then dropped by excludes (glob.ts, matched against the whole URL), listed a page at a time with
// runtime/storage's clients; for delimitedFiles each object is read as it arrives, line by line,
// so neither a big bucket nor a big file is ever held whole (the operator runs this in 160 MiB).
import { StringDecoder } from 'node:string_decoder';
import type { BatchJobSpec, BucketLister } from '../../operator/api/v1alpha1/index.ts';
import { StorageError } from '../storage/fetch-file.ts';
import type { BucketReader, Endpoints } from '../storage/sources.ts';
import { compileGlob } from './glob.ts';

/** An error of the job's data, naming the file (and line) and the fix; the job fails with it. */
export class BucketItemsError extends Error {
  constructor(message: string, fix: string) {
    super(`${message}; fix: ${fix}`);
  }
}

/** A line longer than this is refused (a batch is one Redis message; Cortex allowed 250 KiB). */
export const MAX_LINE_CHARS = 1024 * 1024;

/** s3://bucket/prefix (or gs://) as bucket and prefix, the prefix as written (a trailing / kept). */
export function splitBucketPath(url: string): { scheme: 's3' | 'gs'; bucket: string; prefix: string } {
  const m = /^(s3|gs):\/\/([a-z0-9][a-z0-9._-]{1,61}[a-z0-9])(?:\/(.*))?$/s.exec(url);
  if (!m) {
    throw new BucketItemsError(
      `${url} is not s3://bucket/prefix or gs://bucket/prefix`,
      'write the bucket (3-63 lowercase letters, digits, dots, hyphens) and a key prefix',
    );
  }
  return { scheme: m[1] as 's3' | 'gs', bucket: m[2], prefix: m[3] ?? '' };
}

/**
 * runtime/storage's error with its fix in the message (the job's status shows only the message);
 * credentials are the enqueuer's, not a model Secret's.
 */
function jobError(error: unknown): unknown {
  if (!(error instanceof StorageError)) return error;
  const fix = /access denied/.test(error.message)
    ? "check the credentials of what enqueues the job (locally: cortex submit's environment, AWS_* or " +
      "GOOGLE_*; in a cluster: the operator's) and that they may list and read the bucket"
    : error.fix;
  return new BucketItemsError(error.message, fix);
}

async function readerFor(scheme: 's3' | 'gs', bucket: string, endpoints: Endpoints): Promise<BucketReader> {
  // the AWS SDK only when a job reads s3:// (as runtime/storage/prepare.ts does for models)
  if (scheme === 's3') return (await import('../storage/s3.ts')).s3Bucket(bucket, endpoints);
  return (await import('../storage/sources.ts')).gcsBucket(bucket, endpoints);
}

export interface ListedObject {
  url: string;
  reader: BucketReader;
  key: string;
}

/** The objects a lister selects, in listing order; `field` names it in errors (filePathLister...). */
export async function* listedObjects(
  lister: BucketLister,
  endpoints: Endpoints,
  field: string,
): AsyncGenerator<ListedObject> {
  const includes = (lister.includes ?? []).map(compileGlob);
  const excludes = (lister.excludes ?? []).map(compileGlob);
  const readers = new Map<string, BucketReader>();
  let kept = 0;
  for (const path of lister.s3Paths) {
    const { scheme, bucket, prefix } = splitBucketPath(path);
    const id = `${scheme}://${bucket}`;
    let reader = readers.get(id);
    if (reader === undefined) readers.set(id, (reader = await readerFor(scheme, bucket, endpoints)));
    let listed = 0;
    const keys = reader.keys(prefix)[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<{ name: string }>;
      try {
        next = await keys.next();
      } catch (error) {
        throw jobError(error);
      }
      if (next.done) break;
      const object = next.value;
      listed++;
      const url = `${id}/${object.name}`;
      if (includes.length > 0 && !includes.some((m) => m(url))) continue;
      if (excludes.some((m) => m(url))) continue;
      kept++;
      yield { url, reader, key: object.name };
    }
    if (listed === 0) {
      throw new BucketItemsError(
        `${field}.s3_paths: ${path}: no object's key starts with ${JSON.stringify(prefix)}`,
        'check the bucket and the prefix (a folder ends with /)',
      );
    }
  }
  if (kept === 0) {
    throw new BucketItemsError(
      `${field}: includes/excludes left none of the objects under ${lister.s3Paths.join(', ')}`,
      'check the patterns: they match the whole URL (s3://bucket/key), * stops at /, ** crosses it',
    );
  }
}

/** The lines of a stream of bytes (UTF-8, \n or \r\n), numbered from 1, each at most MAX_LINE_CHARS characters. */
export async function* lines(chunks: AsyncIterable<Uint8Array>, url: string): AsyncGenerator<[string, number]> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let line = 0;
  const long = () =>
    new BucketItemsError(
      `${url}:${line + 1}: a line longer than ${MAX_LINE_CHARS} characters`,
      'split the item, or put it in an object of its own and list it with file_path_lister',
    );
  for await (const chunk of chunks) {
    rest += decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    let start = 0;
    for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n', start)) {
      if (nl - start > MAX_LINE_CHARS) throw long();
      yield [rest.slice(start, rest[nl - 1] === '\r' ? nl - 1 : nl), ++line];
      start = nl + 1;
    }
    rest = rest.slice(start);
    if (rest.length > MAX_LINE_CHARS) throw long();
  }
  rest += decoder.end();
  if (rest.length > 0) yield [rest.endsWith('\r') ? rest.slice(0, -1) : rest, ++line];
}

/**
 * The items of a delimitedFiles job as JSON texts, one per non-blank line of each selected object
 * in turn; a line that is not JSON stops it with the file and line.
 */
export async function* delimitedItems(lister: BucketLister, endpoints: Endpoints): AsyncGenerator<string> {
  for await (const { url, reader, key } of listedObjects(lister, endpoints, 'delimited_files')) {
    const bytes = await reader.read(key).catch((error: unknown) => Promise.reject(jobError(error)));
    for await (const [text, line] of lines(bytes, url)) {
      const item = text.trim();
      if (item === '') continue;
      try {
        JSON.parse(item);
      } catch (error) {
        throw new BucketItemsError(
          `${url}:${line}: not JSON (${(error as Error).message})`,
          'each line of a delimited file is one JSON value (an object, a list, a string...); fix or remove the line',
        );
      }
      yield item;
    }
  }
}

/** The items of a filePathLister job as JSON texts: each selected object's URL. */
export async function* pathItems(lister: BucketLister, endpoints: Endpoints): AsyncGenerator<string> {
  for await (const { url } of listedObjects(lister, endpoints, 'file_path_lister')) yield JSON.stringify(url);
}

/**
 * The URLs of the objects a job would read, in the order its items would be enqueued: the listing
 * and includes/excludes the enqueuer uses, with its errors (Cortex's dryRun). None for itemList.
 */
export async function* listJobFiles(spec: BatchJobSpec, endpoints: Endpoints): AsyncGenerator<string> {
  const [lister, field] =
    spec.filePathLister !== undefined
      ? [spec.filePathLister, 'file_path_lister']
      : spec.delimitedFiles !== undefined
        ? [spec.delimitedFiles, 'delimited_files']
        : [undefined, ''];
  if (lister === undefined) return;
  for await (const { url } of listedObjects(lister, endpoints, field)) yield url;
}
