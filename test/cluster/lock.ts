// A lock directory shared between processes (a test and `npm run cluster -- up` building or
// starting at the same time). A lock whose owner died is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { alive } from './processes.ts';

export async function withLock<T>(
  dir: string,
  what: string,
  log: (msg: string) => void,
  fn: () => Promise<T>,
): Promise<T> {
  const owner = path.join(dir, 'owner');
  let announced = false;
  for (;;) {
    try {
      mkdirSync(path.dirname(dir), { recursive: true });
      mkdirSync(dir);
      writeFileSync(owner, String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let pid = NaN;
      try {
        pid = Number(readFileSync(owner, 'utf8'));
      } catch {
        // being created or removed right now
      }
      if (Number.isInteger(pid) && pid > 0 && !alive(pid)) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      if (!announced) {
        log(`waiting for process ${Number.isNaN(pid) ? '?' : pid} (${what})`);
        announced = true;
      }
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
