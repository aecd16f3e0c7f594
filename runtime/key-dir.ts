// A folder of API key records, one file per key named by its id and holding its KeyRecord as
// JSON, read into a KeyRing and read again every RELOAD_MS. Two things have this shape:
//
// - in a cluster, the API's keys Secret mounted as a volume (each data entry a file); the
//   kubelet rewrites the files when the Secret changes (an atomic swap of its `..data` link), so
//   a created or revoked key reaches running replicas without a restart, within the kubelet's
//   sync period (about a minute, see docs/auth.md) plus RELOAD_MS;
// - locally, $CORTEX_HOME/api-keys/<api>/, written by `cortex api-key` (cli/local/keys.ts).
//
// Why poll rather than fs.watch: the kubelet swaps a symlink, which inotify on the folder
// reports unevenly across file systems; reading a handful of small files once a second costs
// nothing and always sees the result. Names starting with '.' (the kubelet's `..data`, a write
// in progress) are skipped. A file that cannot be used is logged by name, once, and skipped: that
// key is refused, the others still work. A missing folder is no keys: every request gets 401.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { KEY_ID_PATTERN, KeyRing, parseRecord, type KeyRecord } from '../operator/auth/keys.ts';

export const RELOAD_MS = 1000;

export interface KeyDirOptions {
  dir: string;
  /** Told once per bad file (its path and what is wrong), never a key. */
  warn(message: string): void;
  reloadMs?: number;
}

/** Reads every key record in `dir`; bad files are reported through `warn`. */
export function readKeyDir(dir: string, warn: (file: string, problem: string) => void): Map<string, KeyRecord> {
  const records = new Map<string, KeyRecord>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return records;
    throw error;
  }
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const file = path.join(dir, name);
    if (!KEY_ID_PATTERN.test(name)) {
      warn(file, 'is not named like a key id (lowercase letters, digits and -, at most 40)');
      continue;
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR') continue; // removed while listing / not a key
      throw error;
    }
    try {
      records.set(name, parseRecord(text));
    } catch (error) {
      warn(file, (error as Error).message);
    }
  }
  return records;
}

/** A KeyRing kept in step with a folder until stop(). */
export class KeyDir {
  readonly ring = new KeyRing();
  private readonly options: KeyDirOptions;
  private readonly warned = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(options: KeyDirOptions) {
    this.options = options;
    this.reload();
    this.timer = setInterval(() => this.reload(), options.reloadMs ?? RELOAD_MS);
    this.timer.unref();
  }

  reload(): void {
    try {
      this.ring.replace(
        readKeyDir(this.options.dir, (file, problem) => {
          const message = `API key file ${file} ${problem}; that key is refused until the file is fixed`;
          if (this.warned.has(message)) return;
          this.warned.add(message);
          this.options.warn(message);
        }),
      );
    } catch (error) {
      // unreadable folder (permissions): keep the keys known so far, and say so once
      const message = `cannot read the API keys in ${this.options.dir}: ${(error as Error).message}`;
      if (!this.warned.has(message)) {
        this.warned.add(message);
        this.options.warn(message);
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
