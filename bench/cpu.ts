// CPU time of a server's whole process tree (the process and all its descendants), from
// /proc/<pid>/stat. Linux only.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Kernel clock ticks per second (`getconf CLK_TCK`, nearly always 100). */
export function clockTicksPerSecond(): number {
  try {
    const hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (hz > 0) return hz;
  } catch {
    // fall through
  }
  return 100;
}

interface ProcStat {
  pid: number;
  ppid: number;
  /** Start time in ticks since boot: with the pid, identifies a process across samples. */
  start: number;
  /** utime + stime, in ticks. */
  cpu: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited meanwhile
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): field n is f[n - 3].
  return { pid, ppid: Number(f[1]), cpu: Number(f[11]) + Number(f[12]), start: Number(f[19]) };
}

/** CPU ticks of `root` and every descendant alive now, keyed by "pid:start". */
export function sampleTree(root: number): Map<string, number> {
  const all: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) all.push(stat);
  }
  const children = new Map<number, ProcStat[]>();
  for (const p of all) {
    const list = children.get(p.ppid);
    if (list) list.push(p);
    else children.set(p.ppid, [p]);
  }
  const sample = new Map<string, number>();
  const rootStat = all.find((p) => p.pid === root);
  if (!rootStat) return sample;
  const queue = [rootStat];
  while (queue.length > 0) {
    const p = queue.pop()!;
    sample.set(`${p.pid}:${p.start}`, p.cpu);
    queue.push(...(children.get(p.pid) ?? []));
  }
  return sample;
}

/**
 * CPU seconds the tree used between two samples: for every process in `after`, its ticks
 * minus its ticks in `before` (processes that started in between count in full).
 */
export function cpuSecondsBetween(before: Map<string, number>, after: Map<string, number>, hz: number): number {
  let ticks = 0;
  for (const [key, cpu] of after) ticks += cpu - (before.get(key) ?? 0);
  return ticks / hz;
}

/** Busy (non-idle) ticks of the whole machine since boot, summed over all cores, from /proc/stat. */
export function machineBusyTicks(): number {
  // "cpu  user nice system idle iowait irq softirq steal ...": everything but idle and iowait.
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  return f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
}

/** Ticks of this process plus its exited (reaped) children: the harness and its load generator runs. */
export function selfAndReapedChildrenTicks(): number {
  const text = readFileSync('/proc/self/stat', 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]); // utime stime cutime cstime
}

/** Cores the whole machine kept busy over the next `ms` milliseconds. */
export async function machineBusyCores(ms: number, hz: number): Promise<number> {
  const a = machineBusyTicks();
  const started = performance.now();
  await new Promise((ok) => setTimeout(ok, ms));
  return (machineBusyTicks() - a) / hz / ((performance.now() - started) / 1000);
}
