// What a storage URI holds (its files and a version that changes when they do) and how each file
// is downloaded, per scheme. s3:// is in s3.ts (the AWS SDK); gs:// uses GCS's documented JSON API
// with fetch (objects.list, objects.get ?alt=media): the two calls the downloader needs, without
// @google-cloud/storage's ~80 packages; hf:// uses the Hub's HTTP API (the models/<repo>/revision
// endpoint and resolve/<sha>/<file>) as huggingface_hub does; https:// is one file (or archive).
import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { BucketUri, HttpUri, HubUri } from '../../operator/api/v1alpha1/index.ts';
import { StorageError, fetchFile, statusError } from './fetch-file.ts';

export interface RemoteFile {
  /** Path inside the model folder ('' for a single-file source: the file keeps its base name). */
  name: string;
  size?: number;
  etag?: string;
}

export interface Listing {
  /** Changes whenever a file does (ETags, generations, a commit): part of the cache key. */
  version: string;
  files: RemoteFile[];
  /** The URI names one object (not a prefix): the predictor gets the file's path. */
  single: boolean;
}

export interface StorageSource {
  list(): Promise<Listing>;
  download(file: RemoteFile, dest: string, onBytes: (n: number) => void): Promise<void>;
}

/**
 * What a BatchJob's filePathLister and delimitedFiles read of an s3:// or gs:// bucket
 * (runtime/batch/bucket-items.ts): the objects whose keys start with a prefix (RemoteFile.name is
 * the whole key), listed page by page, and one object's bytes as they arrive.
 */
export interface BucketReader {
  keys(prefix: string): AsyncIterable<RemoteFile>;
  read(key: string): Promise<AsyncIterable<Uint8Array>>;
}

export interface Endpoints {
  s3?: string;
  gcs?: string;
  hf?: string;
}

export const env = (name: string): string | undefined => {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
};

async function getJson(uri: string, url: string, headers: Record<string, string>, what: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { headers });
  } catch (error) {
    throw new StorageError(
      `${uri}: cannot reach ${new URL(url).origin} (${(error as Error).cause ?? (error as Error).message})`,
      'check the endpoint and the network',
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw statusError(uri, response.status, what);
  }
  return response.json();
}

export function httpSource(u: HttpUri): StorageSource {
  const auth = env('STORAGE_HTTP_AUTHORIZATION');
  const headers: Record<string, string> = auth ? { authorization: auth } : {};
  const name = decodeURIComponent(u.url.pathname.split('/').pop() || 'model');
  return {
    async list() {
      let response: Response;
      try {
        response = await fetch(u.url, { method: 'HEAD', headers, redirect: 'follow' });
      } catch (error) {
        throw new StorageError(
          `${u.uri}: cannot reach ${u.url.origin} (${(error as Error).cause ?? error})`,
          'check the URL and the network',
        );
      }
      if (!response.ok) throw statusError(u.uri, response.status, 'asking for its size');
      const etag = response.headers.get('etag') ?? undefined;
      const length = response.headers.get('content-length');
      const size = length !== null ? Number(length) : undefined;
      const version = etag ?? `${response.headers.get('last-modified') ?? ''}:${length ?? ''}`;
      return { version, single: true, files: [{ name, size, etag }] };
    },
    download: (file, dest, onBytes) =>
      fetchFile({ url: u.url.href, headers, dest, size: file.size, etag: file.etag, uri: u.uri, onBytes }),
  };
}

export function hfSource(u: HubUri, endpoints: Endpoints): StorageSource {
  const base = (endpoints.hf ?? env('HF_ENDPOINT') ?? 'https://huggingface.co').replace(/\/+$/, '');
  const token = env('HF_TOKEN') ?? env('HUGGING_FACE_HUB_TOKEN');
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  let sha = '';
  return {
    async list() {
      const url = `${base}/api/models/${u.repo}/revision/${encodeURIComponent(u.revision)}?blobs=true`;
      const info = (await getJson(u.uri, url, headers, 'asking the Hub for the revision')) as {
        sha?: string;
        siblings?: { rfilename: string; size?: number }[];
      };
      if (typeof info.sha !== 'string' || !Array.isArray(info.siblings)) {
        throw new StorageError(
          `${u.uri}: ${base} did not answer like a Hugging Face Hub`,
          'check models.storage.hfEndpoint / HF_ENDPOINT',
        );
      }
      sha = info.sha;
      const files = info.siblings
        .filter((s) => !s.rfilename.startsWith('.'))
        .map((s) => ({ name: s.rfilename, size: typeof s.size === 'number' ? s.size : undefined }));
      return { version: sha, single: false, files };
    },
    download: (file, dest, onBytes) =>
      fetchFile({
        url: `${base}/${u.repo}/resolve/${sha}/${file.name.split('/').map(encodeURIComponent).join('/')}`,
        headers,
        dest,
        size: file.size,
        uri: u.uri,
        onBytes,
      }),
  };
}

/** An OAuth token for GCS: GOOGLE_OAUTH_ACCESS_TOKEN, or one a service account key (JSON) signs for. */
async function gcsToken(uri: string): Promise<string | undefined> {
  const direct = env('GOOGLE_OAUTH_ACCESS_TOKEN');
  if (direct) return direct;
  const keyText =
    env('GOOGLE_APPLICATION_CREDENTIALS_JSON') ??
    (env('GOOGLE_APPLICATION_CREDENTIALS') && readFileSync(env('GOOGLE_APPLICATION_CREDENTIALS')!, 'utf8'));
  if (!keyText) return undefined; // public buckets and emulators need none
  const key = JSON.parse(keyText) as { client_email: string; private_key: string; token_uri?: string };
  const tokenUri = key.token_uri ?? 'https://oauth2.googleapis.com/token';
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const claims = {
    iss: key.client_email,
    scope: 'https://www.googleapis.com/auth/devstorage.read_only',
    aud: tokenUri,
    iat: now,
    exp: now + 3600,
  };
  const unsigned = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}`;
  const signature = createSign('RSA-SHA256').update(unsigned).sign(key.private_key, 'base64url');
  const response = await fetch(tokenUri, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: `${unsigned}.${signature}`,
    }),
  });
  if (!response.ok)
    throw statusError(uri, response.status, `exchanging the service account key of ${key.client_email}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

function gcsBase(endpoints: Endpoints): string {
  const emulator = env('STORAGE_EMULATOR_HOST');
  return (
    endpoints.gcs ??
    (emulator && (/^https?:\/\//.test(emulator) ? emulator : `http://${emulator}`)) ??
    'https://storage.googleapis.com'
  ).replace(/\/+$/, '');
}

type GcsItem = { name: string; size: string; generation: string; etag?: string };

/** The objects whose names start with `prefix` (objects.list), a page at a time. */
async function* gcsObjects(
  base: string,
  bucket: string,
  prefix: string,
  headers: Record<string, string>,
  uri: string,
): AsyncGenerator<GcsItem> {
  let pageToken: string | undefined;
  do {
    const q = new URLSearchParams({ prefix, ...(pageToken ? { pageToken } : {}) });
    const page = (await getJson(uri, `${base}/storage/v1/b/${bucket}/o?${q}`, headers, 'listing the bucket')) as {
      items?: GcsItem[];
      nextPageToken?: string;
    };
    for (const item of page.items ?? []) if (!item.name.endsWith('/')) yield item;
    pageToken = page.nextPageToken;
  } while (pageToken);
}

/** A bucket's objects as a BatchJob's file lister reads them (runtime/batch/bucket-items.ts). */
export function gcsBucket(bucket: string, endpoints: Endpoints): BucketReader {
  const base = gcsBase(endpoints);
  let headers: Record<string, string> | undefined;
  const auth = async (uri: string) => {
    if (headers === undefined) {
      const token = await gcsToken(uri);
      headers = token ? { authorization: `Bearer ${token}` } : {};
    }
    return headers;
  };
  return {
    async *keys(prefix) {
      const uri = `gs://${bucket}/${prefix}`;
      for await (const item of gcsObjects(base, bucket, prefix, await auth(uri), uri)) {
        yield { name: item.name, size: Number(item.size) };
      }
    },
    async read(key) {
      const uri = `gs://${bucket}/${key}`;
      const url = `${base}/storage/v1/b/${bucket}/o/${encodeURIComponent(key)}?alt=media`;
      let response: Response;
      try {
        response = await fetch(url, { headers: await auth(uri) });
      } catch (error) {
        throw new StorageError(
          `${uri}: cannot reach ${base} (${(error as Error).cause ?? (error as Error).message})`,
          'check the endpoint and the network',
        );
      }
      if (!response.ok || response.body === null) {
        await response.body?.cancel();
        throw statusError(uri, response.status, 'reading the object');
      }
      return response.body;
    },
  };
}

export function gcsSource(u: BucketUri, endpoints: Endpoints): StorageSource {
  const base = gcsBase(endpoints);
  const headers: Record<string, string> = {};
  const object = (name: string) => `${base}/storage/v1/b/${u.bucket}/o/${encodeURIComponent(name)}`;
  const generations = new Map<string, string>();
  return {
    async list() {
      const token = await gcsToken(u.uri);
      if (token) headers.authorization = `Bearer ${token}`;
      const files: RemoteFile[] = [];
      const keep = (item: GcsItem, name: string) => {
        generations.set(name, item.generation);
        files.push({ name, size: Number(item.size) });
      };
      if (u.key !== '') {
        const response = await fetch(object(u.key), { headers });
        if (response.ok) {
          const item = (await response.json()) as GcsItem;
          keep(item, '');
          return { version: item.generation, single: true, files };
        }
        await response.body?.cancel();
        if (response.status !== 404) throw statusError(u.uri, response.status, 'reading the object');
      }
      const prefix = u.key === '' ? '' : `${u.key}/`;
      for await (const item of gcsObjects(base, u.bucket, prefix, headers, u.uri))
        keep(item, item.name.slice(prefix.length));
      if (files.length === 0) {
        throw new StorageError(
          `${u.uri}: no object is named ${u.key} or starts with ${prefix}`,
          'check the path of the URI',
        );
      }
      return { version: files.map((f) => `${f.name}@${generations.get(f.name)}`).join(','), single: false, files };
    },
    download: (file, dest, onBytes) => {
      const name = file.name === '' ? u.key : `${u.key === '' ? '' : `${u.key}/`}${file.name}`;
      const generation = generations.get(file.name);
      return fetchFile({
        url: `${object(name)}?alt=media${generation ? `&generation=${generation}` : ''}`,
        headers,
        dest,
        size: file.size,
        uri: u.uri,
        onBytes,
      });
    },
  };
}
