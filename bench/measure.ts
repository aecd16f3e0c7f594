// One measured interval against a running server (npm run bench, bench:peers): the load
// generator's requests and latencies, the CPU of the server's whole process tree from /proc, and
// how much other work the machine did meanwhile (which makes a figure incomparable).
import { readFileSync } from 'node:fs';
import {
  clockTicksPerSecond,
  cpuSecondsBetween,
  machineBusyCores,
  machineBusyTicks,
  sampleTree,
  selfAndReapedChildrenTicks,
} from './cpu.ts';
import type { LoadGenerator, LoadResult } from './load.ts';

const hz = clockTicksPerSecond();
/** Cores of other work below which the machine counts as quiet. */
export const QUIET = 0.1;

export interface Measurement extends LoadResult {
  cpuSeconds: number;
  requestsPerCpuS: number;
  /** Cores the server's process tree kept busy on average. */
  cpuCores: number;
  /** Processes in the tree at the end (Ray runs many). */
  processes: number;
  /** CPU of the request-serving processes alone (Ray: proxy + replica), where a server names them. */
  worker?: { label: string; cpuSeconds: number; requestsPerCpuS: number };
  /** Cores something else kept busy just before the run (should be ~0). */
  busyBeforeCores: number;
  /** Cores kept busy by anything but the server and the harness with its load generator. */
  otherCores: number;
}

function commandLine(key: string): string {
  try {
    return readFileSync(`/proc/${key.split(':')[0]}/cmdline`, 'utf8')
      .replace(/\0/g, ' ')
      .trim();
  } catch {
    return '';
  }
}

/** Waits up to `seconds` for the machine to be idle; returns the busy cores last seen. */
export async function waitForIdle(seconds: number): Promise<number> {
  let busy = await machineBusyCores(1000, hz);
  for (let waited = 1; busy > QUIET && waited < seconds; waited++) busy = await machineBusyCores(1000, hz);
  return busy;
}

export interface MeasureOptions {
  load: LoadGenerator;
  pid: number;
  url: string;
  body: string;
  connections: number;
  durationS: number;
  busyBeforeCores: number;
  worker?: { label: string; match: RegExp };
}

export async function measure(o: MeasureOptions): Promise<Measurement> {
  const before = sampleTree(o.pid);
  const [machine0, self0] = [machineBusyTicks(), selfAndReapedChildrenTicks()];
  const r = await o.load.run({ url: o.url, body: o.body, connections: o.connections, durationS: o.durationS });
  const [machine1, self1] = [machineBusyTicks(), selfAndReapedChildrenTicks()];
  const after = sampleTree(o.pid);
  const cpuSeconds = cpuSecondsBetween(before, after, hz);
  const otherCores = Math.max(0, (machine1 - machine0 - (self1 - self0)) / hz - cpuSeconds) / r.durationS;
  let worker: Measurement['worker'];
  if (o.worker) {
    const mine = (sample: Map<string, number>) =>
      new Map([...sample].filter(([key]) => o.worker!.match.test(commandLine(key))));
    const workerS = cpuSecondsBetween(mine(before), mine(after), hz);
    worker = { label: o.worker.label, cpuSeconds: workerS, requestsPerCpuS: r.requests / workerS };
  }
  return {
    ...r,
    cpuSeconds,
    requestsPerCpuS: cpuSeconds > 0 ? r.requests / cpuSeconds : NaN,
    cpuCores: cpuSeconds / r.durationS,
    processes: after.size,
    worker,
    busyBeforeCores: o.busyBeforeCores,
    otherCores,
  };
}
