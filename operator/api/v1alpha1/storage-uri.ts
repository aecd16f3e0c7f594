// The model sources predictor.models reads besides local paths (issue 17): one parser for the
// CLI's and the webhook's checks (models-types.ts) and the replica's downloader (runtime/storage).
// Pure: no I/O, no credentials (those come from the environment or the API's Secret).

/** Schemes a model source may have; anything else with `scheme://` is refused. */
export const STORAGE_SCHEMES = ['s3', 'gs', 'http', 'https', 'hf', 'pvc'] as const;
export type StorageScheme = (typeof STORAGE_SCHEMES)[number];

/** Any `scheme://`: told apart from a local path (which may hold ':' but not '://' after a scheme). */
export const ANY_URI_PATTERN = '^[a-zA-Z][a-zA-Z0-9+.-]*://';
/** The schemes the CRD accepts (its CEL rule); the details are checked by parseStorageUri. */
export const STORAGE_URI_PATTERN = `^(${STORAGE_SCHEMES.join('|')})://`;

export interface BucketUri {
  scheme: 's3' | 'gs';
  uri: string;
  bucket: string;
  /** The object's key, or the prefix of the model's objects, without a trailing '/' ('' : the bucket). */
  key: string;
}
export interface HttpUri {
  scheme: 'http' | 'https';
  /** For logs and errors: a query (a signed URL's signature, a token) shows as ?<redacted>. */
  uri: string;
  url: URL;
}
export interface HubUri {
  scheme: 'hf';
  uri: string;
  repo: string;
  revision: string;
}
export interface PvcUri {
  scheme: 'pvc';
  uri: string;
  claim: string;
  path: string;
}
export type StorageUri = BucketUri | HttpUri | HubUri | PvcUri;

export class StorageUriError extends Error {
  readonly fix: string;
  constructor(message: string, fix: string) {
    super(message);
    this.name = 'StorageUriError';
    this.fix = fix;
  }
}

// S3's and GCS's rules for bucket names (3-63 lowercase letters, digits, dots, hyphens; GCS also
// allows underscores), and Kubernetes' for a PVC's name (a DNS subdomain).
const BUCKET = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const HF_PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function isUri(source: string): boolean {
  return new RegExp(ANY_URI_PATTERN).test(source);
}

/** A storage URI's parts; StorageUriError (with a fix) when it cannot be one. */
export function parseStorageUri(uri: string): StorageUri {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined) throw new StorageUriError(`${uri} is not a URI`, 'write scheme://...');
  if (!(STORAGE_SCHEMES as readonly string[]).includes(scheme)) {
    throw new StorageUriError(
      `${uri}: the ${scheme}:// scheme is not supported`,
      'use s3://bucket/prefix, gs://bucket/prefix, https://host/file (or a .tar.gz/.zip), ' +
        'hf://org/model@revision, pvc://claim/path or a local path',
    );
  }
  const rest = uri.slice(scheme.length + 3);
  if (scheme === 'http' || scheme === 'https') {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new StorageUriError(`${uri} is not a valid URL`, 'write https://host/path/to/model.onnx');
    }
    if (url.username || url.password) {
      throw new StorageUriError(
        `${scheme}://... holds a user or password; credentials never go in the spec`,
        'remove them from the URL and put a token in the Secret named by models.storage.secret (HTTP_AUTHORIZATION)',
      );
    }
    if (url.pathname === '/' || url.pathname === '') {
      throw new StorageUriError(`${uri} names no file`, 'give the path of the model file or archive on the server');
    }
    const shown = url.search === '' ? uri : `${url.origin}${url.pathname}?<redacted>`;
    return { scheme, uri: shown, url };
  }
  const slash = rest.indexOf('/');
  const head = slash < 0 ? rest : rest.slice(0, slash);
  const tail = slash < 0 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
  if (scheme === 's3' || scheme === 'gs') {
    if (!BUCKET.test(head)) {
      throw new StorageUriError(
        `${uri}: "${head}" is not a bucket name (3-63 lowercase letters, digits, dots and hyphens)`,
        `write ${scheme}://bucket/prefix`,
      );
    }
    if (tail.split('/').some((p) => p === '..' || p === '.')) {
      throw new StorageUriError(`${uri}: "." and ".." are not object names`, 'give the plain key or prefix');
    }
    return { scheme, uri, bucket: head, key: tail };
  }
  if (scheme === 'hf') {
    const [repoPart, revision = 'main', ...extra] = rest.replace(/\/+$/, '').split('@');
    const parts = (repoPart ?? '').split('/');
    if (extra.length > 0 || parts.length !== 2 || !parts.every((p) => HF_PART.test(p)) || revision === '') {
      throw new StorageUriError(
        `${uri} is not hf://org/model@revision`,
        'write hf://org/model or hf://org/model@<branch, tag or commit>',
      );
    }
    return { scheme, uri, repo: parts.join('/'), revision };
  }
  // pvc://claim/path: read from the PersistentVolumeClaim the operator mounts into the replica
  if (!DNS_SUBDOMAIN.test(head) || head.length > 253) {
    throw new StorageUriError(
      `${uri}: "${head}" is not a PersistentVolumeClaim name`,
      'write pvc://<claim>/<path in it>',
    );
  }
  if (tail.split('/').includes('..')) {
    throw new StorageUriError(`${uri}: ".." leaves the claim`, 'give a path inside the claim');
  }
  return { scheme: 'pvc', uri, claim: head, path: tail };
}

/** Where a replica reads pvc://claim/path: the operator mounts each claim at <PVC_ROOT>/<claim>. */
export const PVC_ROOT = '/mnt/cortex-pvc';

/** The claims a spec's pvc:// sources name (the operator mounts each). */
export function pvcClaims(sources: string[]): string[] {
  const claims = new Set<string>();
  for (const s of sources) {
    if (!s.startsWith('pvc://')) continue;
    try {
      const parsed = parseStorageUri(s);
      if (parsed.scheme === 'pvc') claims.add(parsed.claim);
    } catch {
      // refused by validation
    }
  }
  return [...claims].sort();
}
