// Processes by parent, read from /proc: `buildah run` answers a SIGTERM by killing its command
// outright, so a graceful stop signals the command's own process instead, the first descendant of
// `buildah run` that is not buildah. The image tests (test/images/containers.ts) use it too.
import { readdirSync, readFileSync } from 'node:fs';

function children(): Map<number, number[]> {
  const byParent = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      byParent.set(ppid, [...(byParent.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  return byParent;
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The pid of the command `buildah run` (process `buildahPid`) started: its first descendant not buildah's own. */
export function commandPid(buildahPid: number): number | undefined {
  const byParent = children();
  const queue = [...(byParent.get(buildahPid) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (!/buildah/.test(comm(pid))) return pid;
    queue.push(...(byParent.get(pid) ?? []));
  }
  return undefined;
}

/** Sends `signal` to `pid` and every descendant of it. */
export function signalTree(pid: number, signal: NodeJS.Signals): void {
  const byParent = children();
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...(byParent.get(all[i]) ?? []));
  for (const p of all) {
    try {
      process.kill(p, signal);
    } catch {
      // gone
    }
  }
}
