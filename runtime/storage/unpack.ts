// An https:// model that is an archive (.tar.gz, .tgz, .tar, .zip) is unpacked into the model's
// folder. tar with tar-stream (the bundle's library); zip with Python's zipfile (python and onnx
// predictors, the only ones with models, have Python), which drops absolute and ".." names.
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { execa } from 'execa';
import { extract } from 'tar-stream';
import { StorageError } from './fetch-file.ts';

export function archiveKind(name: string): 'tar.gz' | 'tar' | 'zip' | undefined {
  if (/\.(tar\.gz|tgz)$/i.test(name)) return 'tar.gz';
  if (/\.tar$/i.test(name)) return 'tar';
  if (/\.zip$/i.test(name)) return 'zip';
  return undefined;
}

export async function unpack(uri: string, archive: string, into: string): Promise<void> {
  const kind = archiveKind(archive);
  mkdirSync(into, { recursive: true });
  try {
    if (kind === 'zip') {
      await execa(process.env.CORTEX_PYTHON ?? 'python3', ['-m', 'zipfile', '-e', archive, into]);
      return;
    }
    const tar = extract();
    tar.on('entry', (header, stream, next) => {
      const dest = path.resolve(into, header.name);
      if (dest !== into && !dest.startsWith(into + path.sep)) {
        stream.destroy();
        tar.destroy(new Error(`the entry ${header.name} leaves the archive's folder`));
        return;
      }
      if (header.type === 'directory') {
        mkdirSync(dest, { recursive: true });
        stream.resume();
        next();
      } else if (header.type === 'file') {
        mkdirSync(path.dirname(dest), { recursive: true });
        pipeline(stream, createWriteStream(dest, { mode: 0o644 })).then(() => next(), next);
      } else {
        stream.resume(); // links and devices: a model needs none
        next();
      }
    });
    const steps =
      kind === 'tar.gz' ? [createReadStream(archive), createGunzip(), tar] : [createReadStream(archive), tar];
    await pipeline(steps as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream]);
  } catch (error) {
    throw new StorageError(
      `${uri}: the archive cannot be unpacked (${(error as Error).message.split('\n')[0]})`,
      'check that the file is a valid .tar.gz, .tar or .zip',
    );
  }
}
