// The cluster's long-running processes: started detached (they outlive `npm run cluster -- up`),
// logging to <state>/logs/<name>.log, remembered in <state>/run/<name>.json, stopped by pid.
import { execa } from 'execa';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Daemon {
  name: string;
  pid: number;
  bin: string;
  log: string;
}

/** Whether `pid` runs (a zombie, exited but not yet reaped, does not). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Whether `pid` still is the process we started (not a reused pid). */
function isOurs(d: Daemon): boolean {
  if (!alive(d.pid)) return false;
  try {
    return readFileSync(`/proc/${d.pid}/cmdline`, 'utf8').split('\0')[0] === d.bin;
  } catch {
    return false;
  }
}

export function logDir(stateDir: string): string {
  return path.join(stateDir, 'logs');
}

function runDir(stateDir: string): string {
  return path.join(stateDir, 'run');
}

export function startDaemon(
  stateDir: string,
  name: string,
  bin: string,
  args: string[],
  env: Record<string, string> = {},
): Daemon {
  mkdirSync(logDir(stateDir), { recursive: true });
  mkdirSync(runDir(stateDir), { recursive: true });
  const log = path.join(logDir(stateDir), `${name}.log`);
  const fd = openSync(log, 'a');
  writeFileSync(fd, `--- ${new Date().toISOString()} ${bin} ${args.join(' ')}\n`);
  // A file descriptor is handed to the child as is (no pipe through this process, which may
  // exit first); execa's types only spell out small literal fds.
  const out = fd as 3;
  const child = execa(bin, args, {
    detached: true,
    stdin: 'ignore',
    stdout: out,
    stderr: out,
    env,
    cwd: stateDir,
    reject: false,
  });
  closeSync(fd);
  child.catch(() => {});
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${bin} (see ${log})`);
  const daemon: Daemon = { name, pid: child.pid, bin, log };
  writeFileSync(path.join(runDir(stateDir), `${name}.json`), JSON.stringify(daemon) + '\n');
  return daemon;
}

/** Every process this state dir remembers, whether it still runs or not. */
export function daemons(stateDir: string): Daemon[] {
  const dir = runDir(stateDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as Daemon);
}

export function running(d: Daemon): boolean {
  return isOurs(d);
}

/** The last lines of a daemon's log, for error messages. */
export function logTail(d: Daemon, lines = 15): string {
  try {
    return readFileSync(d.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopDaemon(stateDir: string, d: Daemon, graceMs = 10_000): Promise<void> {
  if (isOurs(d)) {
    try {
      process.kill(d.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    const deadline = Date.now() + graceMs;
    while (alive(d.pid) && Date.now() < deadline) await sleep(100);
    if (alive(d.pid)) {
      try {
        process.kill(d.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      const killDeadline = Date.now() + 10_000;
      while (alive(d.pid) && Date.now() < killDeadline) await sleep(100);
      if (alive(d.pid)) throw new Error(`${d.name} (pid ${d.pid}) did not exit after SIGKILL`);
    }
  }
  rmSync(path.join(runDir(stateDir), `${d.name}.json`), { force: true });
}

/** Synchronous best-effort kill of every remembered process (for a test process's exit handler). */
export function killAllSync(stateDir: string): void {
  for (const d of daemons(stateDir)) {
    if (isOurs(d)) {
      try {
        process.kill(d.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
