// A cluster deploy ships the project folder as a bundle: a gzipped tar stored in ConfigMaps
// (binaryData), which the replicas' init container joins, checks against predictor.bundle.sha256
// and unpacks (operator/reconcilers/deployment.ts). Pure: nothing here talks to a cluster.
//
// The bundle is content-addressed: the same files give the same bytes, hence the same sha256 and
// the same ConfigMap names, so an unchanged project uploads nothing new and rolls nothing out.
// What would make bytes differ is fixed: entries are sorted, every mtime is BUNDLE_MTIME, owners
// are uid/gid 0 without user or group names, modes are 0644 or 0755 (only the executable bit is
// kept), and the gzip header carries no time, no name and a fixed OS byte.

import { createHash } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, openSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import { BUNDLE_KEY, BUNDLE_MAX_CONFIGMAPS, type BundleSpec } from '../../operator/api/v1alpha1/index.ts';
import type { KubeObject } from '../../operator/kube/client.ts';
import { MANAGED_BY_LABEL } from '../../operator/kube/resources.ts';
import {
  BUNDLE_LABEL,
  BUNDLE_MANAGED_BY,
  BUNDLE_PART_ANNOTATION,
  BUNDLE_SHA256_ANNOTATION,
  bundleConfigMapName,
  bundleId,
} from '../../operator/reconcilers/bundle-names.ts';
import { CONFIG_FILE_NAMES } from '../config/load.ts';
import { CliError, ExitCode } from '../errors.ts';
import { IGNORE_FILE, listProjectFiles } from '../local/snapshot.ts';
import { bytes, plural } from '../output.ts';
import { largestEntries } from './bundle-sizes.ts';

/**
 * Bytes of the bundle per ConfigMap. A ConfigMap may hold 1 MiB, but `kubectl apply` without
 * --server-side (and Argo CD's default sync) copies the whole object, base64 included, into the
 * last-applied annotation, and all annotations together may hold 256 KiB: 176 KiB chunks
 * (235 KiB in base64) keep the manifests of `cortex render` appliable that way too.
 */
export const BUNDLE_CHUNK_BYTES = 176 * 1024;
/**
 * Largest bundle (compressed): 8 MiB, i.e. 47 ConfigMaps, below the 64 predictor.bundle may
 * list (11 MiB). Code rarely needs more; models and data belong in storage the predictor loads
 * from, or in predictor.image.
 */
export const BUNDLE_MAX_BYTES = 8 * 1024 * 1024;
/** mtime of every entry: 1980-01-01, the earliest a zip file can hold, so re-zipping the unpacked files works. */
export const BUNDLE_MTIME = new Date('1980-01-01T00:00:00Z');
/** The name the deployed config file gets in the bundle: `cortex serve /mnt/project` reads it. */
export const BUNDLE_CONFIG_NAME = 'cortex.yaml';
/**
 * gzip's OS byte (RFC 1952): zlib writes the platform it was built for; Unix everywhere gives
 * the same bytes on every machine.
 */
const GZIP_OS_UNIX = 3;

export interface BundleFile {
  /** Path in the bundle, relative, with `/`. */
  path: string;
  size: number;
  mode: number;
}

export interface Bundle {
  /** The absolute project folder it was packed from. */
  projectDir: string;
  /** The gzipped tar. */
  tgz: Buffer;
  /** Lowercase hex sha256 of tgz. */
  sha256: string;
  /** The files in it, in tar order. */
  files: BundleFile[];
  /** Sum of the file sizes (before compression). */
  bytes: number;
}

export interface PackOptions {
  /**
   * The config file being deployed: always packed, as cortex.yaml at the top (where the
   * replicas' `cortex serve` looks), and no other top-level cortex.yaml or cortex.yml is packed.
   */
  config?: string;
  /** Absolute folders never entered (e.g. a CORTEX_HOME inside the project). */
  skipDirs?: string[];
  /** Largest compressed size; default BUNDLE_MAX_BYTES. */
  maxBytes?: number;
}

interface Entry {
  path: string;
  abs?: string;
  dir: boolean;
}

/** The tar entries for `files`: each folder once, before what is in it, then the file. */
function entriesFor(files: { rel: string; abs: string }[]): Entry[] {
  const entries: Entry[] = [];
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!dirs.has(dir)) {
        dirs.add(dir);
        entries.push({ path: dir, dir: true });
      }
    }
    entries.push({ path: f.rel, abs: f.abs, dir: false });
  }
  return entries;
}

/** The project files to pack, sorted by path, with the config as cortex.yaml. */
function projectFiles(root: string, options: PackOptions): { rel: string; abs: string }[] {
  const listed = listProjectFiles(root, { skipDirs: options.skipDirs });
  if (options.config === undefined) return listed;
  const others = listed.filter((f) => !CONFIG_FILE_NAMES.includes(f.rel));
  const all = [...others, { rel: BUNDLE_CONFIG_NAME, abs: path.resolve(options.config) }];
  return all.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0)); // listProjectFiles' order
}

class TooBig extends Error {}

/**
 * Packs the project folder (what a local deploy takes: no hidden files, .pyc, __pycache__,
 * node_modules or .cortexignore'd paths) into a reproducible gzipped tar. Over maxBytes
 * compressed → a CliError (ExitCode.Usage) that says what is big; packing stops as soon as the
 * compressed output passes the limit, so a huge folder is not read to the end.
 */
export async function packBundle(projectDir: string, options: PackOptions = {}): Promise<Bundle> {
  const root = path.resolve(projectDir);
  const maxBytes = options.maxBytes ?? BUNDLE_MAX_BYTES;
  if (maxBytes > BUNDLE_MAX_CONFIGMAPS * BUNDLE_CHUNK_BYTES) {
    throw new Error(
      `maxBytes ${maxBytes} is more than ${BUNDLE_MAX_CONFIGMAPS} ConfigMaps of ${BUNDLE_CHUNK_BYTES} bytes hold`,
    );
  }
  const files = projectFiles(root, options);
  const tar = tarPack();
  // level 9 and the default window: fixed settings, as the bytes depend on them
  const gzip = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  let compressed = 0;
  const collecting = pipeline(tar, gzip, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      compressed += chunk.length;
      if (compressed > maxBytes) throw new TooBig();
      chunks.push(chunk);
    }
  });
  collecting.catch(() => undefined); // awaited below; until then a rejection must not count as unhandled

  const packed: BundleFile[] = [];
  try {
    for (const entry of entriesFor(files)) {
      const common = { name: entry.path, mtime: BUNDLE_MTIME, uid: 0, gid: 0, uname: '', gname: '' };
      if (entry.dir) {
        // "name/", as tar writes folders (tar-stream does not add the slash itself)
        await new Promise<void>((resolve, reject) =>
          tar.entry({ ...common, name: `${entry.path}/`, type: 'directory', mode: 0o755 }, (e) =>
            e ? reject(e) : resolve(),
          ),
        );
        continue;
      }
      const fd = openSync(entry.abs!, 'r');
      let size: number;
      let mode: number;
      try {
        const stat = fstatSync(fd);
        size = stat.size;
        mode = stat.mode & 0o111 ? 0o755 : 0o644;
      } catch (error) {
        closeSync(fd);
        throw error;
      }
      const header = { ...common, type: 'file' as const, mode, size };
      if (size === 0) {
        closeSync(fd);
        await new Promise<void>((resolve, reject) =>
          tar.entry(header, Buffer.alloc(0), (e) => (e ? reject(e) : resolve())),
        );
      } else {
        // the size goes into the header first: a file that shrinks meanwhile fails the entry ("Size mismatch")
        try {
          await pipeline(createReadStream('', { fd, start: 0, end: size - 1 }), tar.entry(header));
        } catch (error) {
          if (error instanceof Error && /size mismatch/i.test(error.message)) {
            throw new CliError(
              `${path.join(root, entry.path)} changed while it was being packed: deploy again once it is written`,
              ExitCode.Failed,
            );
          }
          throw error;
        }
      }
      packed.push({ path: entry.path, size, mode });
    }
    tar.finalize();
    await collecting;
  } catch (error) {
    tar.destroy();
    const reason = await collecting.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (reason instanceof TooBig) throw oversizeError(root, files, maxBytes);
    throw error;
  }
  const tgz = Buffer.concat(chunks);
  tgz[9] = GZIP_OS_UNIX; // not covered by the gzip CRC (it covers the data only)
  return {
    projectDir: root,
    tgz,
    sha256: createHash('sha256').update(tgz).digest('hex'),
    files: packed,
    bytes: packed.reduce((n, f) => n + f.size, 0),
  };
}

/** The error for a project over the limit: how big, what is biggest, what to do. */
export function oversizeError(root: string, files: { rel: string; abs: string }[], maxBytes: number): CliError {
  const sized = files.map((f) => ({ rel: f.rel, size: sizeOf(f.abs) }));
  const total = sized.reduce((n, f) => n + f.size, 0);
  const largest = largestEntries(sized, 8);
  const width = Math.max(...largest.map((e) => e.path.length));
  return new CliError(
    [
      `cannot deploy ${root}: its ${plural(files.length, 'file')} hold ${bytes(total)}, ` +
        `more than the ${bytes(maxBytes)} a code bundle may hold once compressed ` +
        '(bundles are stored in the cluster as ConfigMaps)',
      'the largest:',
      ...largest.map((e) => `  ${e.path.padEnd(width)}  ${bytes(e.size)}`),
      `leave out what the predictor does not need by listing it in ${path.join(root, IGNORE_FILE)} ` +
        `(gitignore syntax, e.g. "${largest[0]?.path ?? 'data/'}"), ` +
        "load models and data from storage in the predictor's constructor, " +
        'or bake the code into predictor.image (the project in /mnt/project) so that no bundle is needed',
    ].join('\n'),
    ExitCode.Usage,
  );
}

function sizeOf(file: string): number {
  try {
    const fd = openSync(file, 'r');
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  } catch {
    return 0;
  }
}

/** The bundle cut into ConfigMap-sized pieces, in order (concatenated, they are the bundle again). */
export function splitBundle(tgz: Buffer, chunkBytes = BUNDLE_CHUNK_BYTES): Buffer[] {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < tgz.length; offset += chunkBytes) parts.push(tgz.subarray(offset, offset + chunkBytes));
  return parts.length > 0 ? parts : [Buffer.alloc(0)];
}

/** predictor.bundle of an API deployed with this bundle. */
export function bundleSpec(bundle: Pick<Bundle, 'tgz' | 'sha256'>): BundleSpec {
  const parts = splitBundle(bundle.tgz).length;
  return {
    configMaps: Array.from({ length: parts }, (_, i) => bundleConfigMapName(bundle.sha256, i)),
    sha256: bundle.sha256,
  };
}

/**
 * The ConfigMaps that hold the bundle in `namespace` (undefined: none set, for kubectl -n or
 * kustomize): immutable (the kubelet need not watch them, and a name always means the same
 * bytes), labelled so the operator can find them, each with the full sha256. The operator adds
 * owner references to the APIs that use them.
 */
export function bundleConfigMaps(bundle: Pick<Bundle, 'tgz' | 'sha256'>, namespace: string | undefined): KubeObject[] {
  const parts = splitBundle(bundle.tgz);
  if (parts.length > BUNDLE_MAX_CONFIGMAPS) {
    throw new Error(
      `the bundle needs ${parts.length} ConfigMaps, more than the ${BUNDLE_MAX_CONFIGMAPS} predictor.bundle may list`,
    );
  }
  return parts.map((part, i) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: bundleConfigMapName(bundle.sha256, i),
      ...(namespace !== undefined ? { namespace } : {}),
      labels: { [MANAGED_BY_LABEL]: BUNDLE_MANAGED_BY, [BUNDLE_LABEL]: bundleId(bundle.sha256) },
      annotations: { [BUNDLE_SHA256_ANNOTATION]: bundle.sha256, [BUNDLE_PART_ANNOTATION]: `${i + 1}/${parts.length}` },
    },
    immutable: true,
    binaryData: { [BUNDLE_KEY]: part.toString('base64') },
  }));
}
