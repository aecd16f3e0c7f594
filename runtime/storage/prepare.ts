// The replica's model step, after its dependencies and before any worker's __init__: every storage
// URI of predictor.models is downloaded into the node's cache (cache.ts) and replaced by a local
// path the workers read (cortex_models.py's resolve_source then sees a plain path). That path is a
// symbolic link the replica owns: when the source changes (a new ETag, generation or commit, e.g.
// a new integer version folder uploaded), the new version is downloaded while the old one serves,
// and the link is swapped; the workers' model poller sees the changed files and loads them (a
// version that fails to load keeps the old one serving, as for local folders). pvc:// is a mounted
// claim (the operator mounts it), read in place.
import { existsSync, mkdirSync, renameSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import {
  DEFAULT_RELOAD_INTERVAL,
  PVC_ROOT,
  parseDurationMs,
  parseMemBytes,
  parseStorageUri,
  isUri,
  type ModelsSpec,
  type StorageUri,
} from '../../operator/api/v1alpha1/index.ts';
import type { Logger } from '../../operator/util/log.ts';
import { cacheRoot } from '../deps.ts';
import { cachedModel } from './cache.ts';
import { StorageError } from './fetch-file.ts';
import { env, gcsSource, hfSource, httpSource, type Endpoints, type StorageSource } from './sources.ts';

/** A model that could not be prepared: the replica exits before any worker starts. */
export class ModelSourceError extends Error {
  constructor(field: string, error: StorageError) {
    super(`${field}: ${error.message}; fix: ${error.fix}`);
    this.name = 'ModelSourceError';
  }
}

export async function sourceFor(u: StorageUri, endpoints: Endpoints): Promise<StorageSource> {
  // the AWS SDK (~100 modules) only for an s3:// source: every replica start pays for what it loads
  if (u.scheme === 's3') return (await import('./s3.ts')).s3Source(u, endpoints);
  if (u.scheme === 'gs') return gcsSource(u, endpoints);
  if (u.scheme === 'hf') return hfSource(u, endpoints);
  if (u.scheme === 'http' || u.scheme === 'https') return httpSource(u);
  throw new Error(`no downloader for ${u.scheme}://`);
}

/** The cap of the model cache: CORTEX_MODEL_CACHE_MAX_SIZE, else the dependency cache's (CORTEX_CACHE_MAX_SIZE). */
export function modelCacheMaxBytes(): number | undefined {
  const raw = env('CORTEX_MODEL_CACHE_MAX_SIZE') ?? env('CORTEX_CACHE_MAX_SIZE');
  if (raw === undefined) return undefined;
  try {
    return parseMemBytes(raw);
  } catch {
    throw new StorageError(`CORTEX_MODEL_CACHE_MAX_SIZE must be a size like 20Gi or 500M, got "${raw}"`, 'correct it');
  }
}

export interface PrepareOptions {
  /** A folder the replica owns, for the links the workers read. */
  liveDir: string;
  logger: Logger;
  cacheRoot?: string;
  /** After a look at a changed source: did its new version fail to download (model: its name, (path), (dir)). */
  onReload?: (model: string, failing: boolean) => void;
}

export interface PreparedModels {
  models: ModelsSpec;
  /** Ends the polling for new versions. */
  stop(): void;
}

interface Remote {
  field: string;
  /** The model label of the runtime's metrics. */
  model: string;
  uri: string;
  source: StorageSource;
  link: string;
  version: string;
  scope: string;
}

/** predictor.models with every storage URI downloaded and replaced by a local path. */
export async function prepareModels(
  models: ModelsSpec | undefined,
  o: PrepareOptions,
): Promise<PreparedModels | undefined> {
  if (models === undefined) return undefined;
  const fields: [string, string, (local: string) => void, string][] = [];
  const out: ModelsSpec = { ...models, paths: models.paths?.map((m) => ({ ...m })) };
  if (out.path !== undefined) fields.push(['predictor.models.path', out.path, (l) => (out.path = l), '(path)']);
  if (out.dir !== undefined) fields.push(['predictor.models.dir', out.dir, (l) => (out.dir = l), '(dir)']);
  out.paths?.forEach((m, i) => fields.push([`predictor.models.paths[${i}].path`, m.path, (l) => (m.path = l), m.name]));
  const uris = fields.filter(([, source]) => isUri(source));
  if (uris.length === 0) return { models, stop: () => {} };
  if (out.storage === undefined) delete out.storage;
  const endpoints: Endpoints = {
    s3: models.storage?.s3Endpoint,
    gcs: models.storage?.gcsEndpoint,
    hf: models.storage?.hfEndpoint,
  };
  // CORTEX_MODEL_CACHE_DIR: the models elsewhere than the virtualenvs (a bigger disk)
  const root = o.cacheRoot ?? env('CORTEX_MODEL_CACHE_DIR') ?? cacheRoot();
  const maxBytes = modelCacheMaxBytes();
  mkdirSync(o.liveDir, { recursive: true });
  const remotes: Remote[] = [];
  for (const [index, [field, source, set, model]] of uris.entries()) {
    try {
      const u = parseStorageUri(source);
      if (u.scheme === 'pvc') {
        const local = path.join(env('CORTEX_PVC_ROOT') ?? PVC_ROOT, u.claim, u.path);
        if (!existsSync(local)) {
          throw new StorageError(
            `${source}: ${local} does not exist (pvc:// reads the PersistentVolumeClaim the operator mounts there)`,
            'in a cluster: check the claim and the path in it; locally: give the local path of the model instead',
          );
        }
        set(local);
        continue;
      }
      const remote = await sourceFor(u, endpoints);
      const listing = await remote.list();
      const scope = JSON.stringify(endpoints);
      // u.uri: what logs and errors show (a signed URL's query redacted)
      const cached = await cachedModel(u.uri, remote, listing, { root, maxBytes, logger: o.logger, scope });
      if (!cached.downloaded) o.logger.info(`${u.uri}: found in the model cache (${cached.key})`);
      // a folder per source, so a single file keeps its own name (model.onnx) for the loader
      const link = path.join(o.liveDir, String(index), path.basename(cached.local));
      mkdirSync(path.dirname(link), { recursive: true });
      swapLink(cached.local, link);
      set(link);
      remotes.push({ field, model, uri: u.uri, source: remote, link, version: listing.version, scope });
    } catch (error) {
      if (error instanceof StorageError) throw new ModelSourceError(field, error);
      throw error;
    }
  }
  const intervalMs = parseDurationMs(models.reloadInterval ?? DEFAULT_RELOAD_INTERVAL);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const poll = async () => {
    for (const r of remotes) {
      if (stopped) return;
      try {
        const listing = await r.source.list();
        if (listing.version === r.version) continue;
        o.logger.info(`${r.uri} changed: downloading the new version while the current one serves`);
        const cached = await cachedModel(r.uri, r.source, listing, {
          root,
          maxBytes,
          logger: o.logger,
          scope: r.scope,
        });
        if (path.basename(cached.local) !== path.basename(r.link)) {
          throw new StorageError(
            `${r.uri}: the new version is not the same kind of thing (file or folder)`,
            'upload the same layout',
          );
        }
        swapLink(cached.local, r.link);
        r.version = listing.version;
        o.logger.info(`${r.uri}: the new version is on disk; the workers load it on their next look`);
        o.onReload?.(r.model, false);
      } catch (error) {
        const why = error instanceof StorageError ? `${error.message}; fix: ${error.fix}` : String(error);
        o.logger.warn(
          `${r.field}: the new version of ${r.uri} could not be downloaded, the current one keeps serving: ${why}`,
        );
        o.onReload?.(r.model, true);
      }
    }
    if (!stopped) timer = setTimeout(() => void poll(), intervalMs).unref();
  };
  timer = setTimeout(() => void poll(), intervalMs).unref();
  return {
    models: out,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** Points `link` at `target` atomically (a new link renamed over the old one). */
function swapLink(target: string, link: string): void {
  const tmp = `${link}.new-${process.pid}`;
  symlinkSync(target, tmp);
  renameSync(tmp, link);
}
