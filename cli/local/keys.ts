// The local environment's API keys: $CORTEX_HOME/api-keys/<api>/<key id>, one file per key with
// its KeyRecord as JSON (the SHA-256 of the key, never the key), the same shape as a mounted
// keys Secret, so the gateway reads it with the runtime's code (runtime/key-dir.ts). Folders are
// 0700 and files 0600 (privateDir); a file is written under a dot-name and renamed into place, so
// the gateway never reads half of one.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { KeyRecord } from '../../operator/auth/keys.ts';
import { readKeyDir } from '../../runtime/key-dir.ts';
import { privateDir, type Layout } from './paths.ts';

/** What `cortex api-key` needs of where an API's keys are kept (local files, a cluster Secret). */
export interface KeyStore {
  /** Where the keys are, for messages ("in Secret ml/cortex-api-keys-iris"). */
  readonly where: string;
  list(): Promise<Map<string, KeyRecord>>;
  /** Adds a key; false (nothing written) when one of that id exists. */
  add(id: string, record: KeyRecord): Promise<boolean>;
  /** Removes a key; false when there was none. */
  remove(id: string): Promise<boolean>;
}

export function localKeysDir(l: Pick<Layout, 'home'>, api: string): string {
  return path.join(l.home, 'api-keys', api);
}

export function localKeyStore(l: Pick<Layout, 'home'>, api: string): KeyStore {
  const dir = localKeysDir(l, api);
  const read = () =>
    readKeyDir(dir, (file, problem) => {
      throw new Error(`${file} ${problem}: fix or delete the file`);
    });
  return {
    where: dir,
    list: () => Promise.resolve(read()),
    add(id, record) {
      privateDir(dir);
      if (read().has(id)) return Promise.resolve(false);
      const temp = path.join(dir, `.${id}.${process.pid}.tmp`);
      writeFileSync(temp, JSON.stringify(record) + '\n', { mode: 0o600 });
      renameSync(temp, path.join(dir, id));
      return Promise.resolve(true);
    },
    remove(id) {
      if (!read().has(id)) return Promise.resolve(false);
      rmSync(path.join(dir, id), { force: true });
      return Promise.resolve(true);
    },
  };
}

/** Removes an API's keys (the API was deleted: a new API of the same name starts without keys). */
export function removeLocalKeys(l: Pick<Layout, 'home'>, api: string): void {
  rmSync(localKeysDir(l, api), { recursive: true, force: true });
}
