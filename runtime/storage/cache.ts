// The node's model cache: one folder per storage URI and version, made with the dependency cache's
// mechanism (venv-cache.ts ensureCached: a lock folder, so replicas of one node starting together
// download once; a building folder renamed into place; LRU eviction under a size cap). Layout of
// <root>/models:
//   <key>/data/          the model's files (the predictor reads these)
//   <key>.partial/       files being downloaded: kept when a replica dies, so the next one resumes
// <key> hashes the URI, its version (ETags, generations, a commit) and the endpoint.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statfsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../operator/util/log.ts';
import { IN_USE_MS, ensureCached, evictFrom, markUsed } from '../venv-cache.ts';
import { StorageError, isDiskFull } from './fetch-file.ts';
import { unpack, archiveKind } from './unpack.ts';
import type { Listing, StorageSource } from './sources.ts';

export interface CachedModel {
  /** What the predictor is given: the data folder, or the one file of a single-object URI. */
  local: string;
  key: string;
  downloaded: boolean;
  bytes: number;
}

export interface CacheOptions {
  root: string;
  maxBytes?: number;
  logger: Logger;
  /** Extra text in the key (the endpoint): the same URI on two servers is two entries. */
  scope?: string;
  progressMs?: number;
  /** Entries used more recently than this are never evicted (a replica may be reading them). */
  inUseMs?: number;
}

const mib = (b: number) => (b < 2 ** 20 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 2 ** 20).toFixed(1)} MiB`);

export function modelKey(uri: string, version: string, scope = ''): string {
  return createHash('sha256').update(`${uri}\n${version}\n${scope}`).digest('hex').slice(0, 32);
}

function localOf(entry: string, listing: Listing): string {
  const data = path.join(entry, 'data');
  if (!listing.single) return data;
  const only = readdirSync(data);
  return only.length === 1 && !archiveKind(only[0]) ? path.join(data, only[0]) : data;
}

/** The model `uri` as `listing` describes it, from the cache or downloaded into it. */
export async function cachedModel(
  uri: string,
  source: StorageSource,
  listing: Listing,
  o: CacheOptions,
): Promise<CachedModel> {
  const folder = path.join(o.root, 'models');
  const key = modelKey(uri, listing.version, o.scope);
  const total = listing.files.reduce((sum, f) => sum + (f.size ?? 0), 0);
  const partial = path.join(folder, `${key}.partial`);
  const { dir, made } = await ensureCached(
    folder,
    key,
    async (building) => {
      if (o.maxBytes !== undefined && total > o.maxBytes) {
        throw new StorageError(
          `${uri} is ${mib(total)}, more than the model cache may hold (${mib(o.maxBytes)})`,
          'raise CORTEX_MODEL_CACHE_MAX_SIZE (the operator: dependencyCache.maxSize) or use a smaller model',
        );
      }
      mkdirSync(partial, { recursive: true });
      const free = freeBytes(partial);
      if (free !== undefined && total > free) {
        throw new StorageError(
          `${uri} is ${mib(total)} but the disk of the model cache (${o.root}) has ${mib(free)} free`,
          'free space on that disk, lower the cache size so old models are evicted, or use a larger disk',
        );
      }
      await download(uri, source, listing, partial, total, o);
      const data = path.join(building, 'data');
      mkdirSync(building, { recursive: true });
      const archive = listing.single ? listing.files[0] : undefined;
      const name = archive ? safeName(uri, archive.name) : '';
      if (archive && archiveKind(name)) {
        await unpack(uri, path.join(partial, name), data);
      } else {
        renameSync(partial, data);
      }
      rmSync(partial, { recursive: true, force: true });
    },
    o.logger,
    { waitingMessage: `another replica on this machine is downloading ${uri}; waiting for it` },
  ).catch((error: unknown) => {
    // a full disk: the partial download is not kept for a resume (as a dropped connection's is),
    // it holds the space the disk lacks
    if (isDiskFull(error)) rmSync(partial, { recursive: true, force: true });
    throw diskFull(uri, o.root, error);
  });
  markUsed(dir);
  if (made && o.maxBytes !== undefined)
    evictFrom(folder, o.maxBytes, key, o.logger, o.inUseMs ?? IN_USE_MS, 'cached model');
  return { local: localOf(dir, listing), key, downloaded: made, bytes: total };
}

function safeName(uri: string, name: string): string {
  const base = name === '' ? path.basename(new URL(uri.replace(/^(s3|gs|hf|pvc):/, 'http:')).pathname) : name;
  return base || 'model';
}

async function download(
  uri: string,
  source: StorageSource,
  listing: Listing,
  into: string,
  total: number,
  o: CacheOptions,
) {
  const started = Date.now();
  let done = 0;
  let lastLog = started;
  const onBytes = (n: number) => {
    done += n;
    const now = Date.now();
    if (now - lastLog >= (o.progressMs ?? 2000)) {
      lastLog = now;
      const rate = done / 2 ** 20 / ((now - started) / 1000);
      o.logger.info(
        `downloading ${uri}: ${mib(done)} of ${mib(total)} ` +
          `(${total ? Math.round((100 * done) / total) : 0}%), ${rate.toFixed(1)} MiB/s`,
      );
    }
  };
  o.logger.info(`downloading ${uri} (${listing.files.length} file(s), ${mib(total)}) into the model cache`);
  for (const file of listing.files) {
    const name = file.name === '' ? safeName(uri, '') : file.name;
    const dest = path.resolve(into, name);
    if (!dest.startsWith(into + path.sep)) {
      throw new StorageError(`${uri}: the object name ${file.name} leaves the model folder`, 'rename the object');
    }
    if (existsSync(dest)) continue; // finished by a replica that stopped before the rest
    await source.download(file, dest, onBytes);
  }
  const seconds = (Date.now() - started) / 1000;
  o.logger.info(
    `downloaded ${uri}: ${mib(total)} in ${seconds.toFixed(1)} s ` +
      `(${(total / 2 ** 20 / Math.max(seconds, 1e-3)).toFixed(1)} MiB/s)`,
  );
}

function freeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

function diskFull(uri: string, root: string, error: unknown): unknown {
  if (!isDiskFull(error)) return error;
  return new StorageError(
    `${uri}: the disk of the model cache (${root}) filled up during the download`,
    'free space on that disk, lower the cache size so old models are evicted, or use a larger disk',
  );
}
