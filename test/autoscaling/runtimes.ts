// What stands in for the kubelet in the autoscaling test: for every pod of an API that kwok
// reports Running (with a loopback pod IP, LOOPBACK_POD_CIDR), a real `cortex serve` bound to
// that IP on the runtime port, stopped when the pod goes away; and a load generator that keeps
// a fixed number of requests in flight, spread over the runtimes that are ready, as a Service
// would. Every address is checked to be loopback before anything connects to it.

import http, { type IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import type { V1Pod } from '@kubernetes/client-node';
import { Informer, listerWatcher } from '../../operator/controller/informer.ts';
import type { KubeClient, KubeObject } from '../../operator/kube/client.ts';
import { RUNTIME_PORT } from '../../operator/reconcilers/deployment.ts';
import { API_LABEL } from '../../operator/reconcilers/types.ts';
import { cortexBin } from '../helpers/serve.ts';
import { podProcess } from '../helpers/pod-process.ts';

type Pod = V1Pod & KubeObject;

/** Throws unless `ip` is an IPv4 loopback address (127.0.0.0/8): the only kind this machine may connect to. */
export function loopbackOnly(ip: string | undefined): string {
  if (!ip || isIP(ip) !== 4 || !ip.startsWith('127.')) {
    throw new Error(
      `refusing to use pod IP ${ip ?? '(none)'}: not loopback; start the cluster with podCidr: LOOPBACK_POD_CIDR`,
    );
  }
  return ip;
}

interface Runtime {
  pod: string;
  ip: string;
  proc: ResultPromise;
  ready: boolean;
  stopping: boolean;
  exited?: boolean;
  startedAt: number;
  startedEpoch: number;
}

/** How long a pod's runtime took from process start to its first 200 from /readyz. */
export interface ReadyTime {
  pod: string;
  node: string;
  ms: number;
  /** Epoch ms (Date.now()): the pod first seen by the informer, its process started, its first 200. */
  seenAt: number;
  startedAt: number;
  readyAt: number;
}

export class PodRuntimes {
  private readonly informer: Informer<Pod>;
  private readonly runtimes = new Map<string, Runtime>();
  private readonly project: string;
  private readonly tmpDir: string;
  private readonly fromPod: boolean;
  private readonly secrets: ((secretName: string) => string | undefined) | undefined;
  readonly log: string[] = [];
  /** Every runtime that became ready, in order. */
  readonly readyTimes: ReadyTime[] = [];
  /** Pod names a runtime was started for, in order. */
  readonly started: string[] = [];
  /** Pod names whose runtime was stopped because the pod went away. */
  readonly stopped: string[] = [];
  /** When the informer first saw each pod (epoch ms): created, before it is scheduled or Running. */
  readonly seenAt = new Map<string, number>();
  /** Variables added to the env of the runtimes started from now on (what an image could set). */
  env: Record<string, string> = {};

  /**
   * `tmpDir` gets the runtimes' termination-log files. `fromPod`: run each pod's own command and
   * env (pod-process.ts; hostPath volumes under tmpDir/nodes) rather than `cortex serve project`.
   */
  constructor(options: {
    client: KubeClient;
    namespace: string;
    api: string;
    project: string;
    tmpDir: string;
    fromPod?: boolean;
    /** With fromPod: the local folder standing in for a mounted Secret (pod-process.ts). */
    secrets?: (secretName: string) => string | undefined;
  }) {
    this.secrets = options.secrets;
    this.project = options.project;
    this.tmpDir = options.tmpDir;
    this.fromPod = options.fromPod ?? false;
    this.informer = new Informer<Pod>({
      name: 'test pods',
      source: listerWatcher(
        options.client,
        { group: '', version: 'v1', kind: 'Pod', plural: 'pods' },
        options.namespace,
        { labelSelector: `${API_LABEL}=${options.api}` },
      ),
      resyncMs: 0,
    });
    this.informer
      .on('add', (p) => this.sync(p))
      .on('update', (p) => this.sync(p))
      .on('delete', (p) => this.gone(p));
  }

  async start(): Promise<void> {
    this.informer.start();
    await this.informer.waitForSync();
  }

  private sync(pod: Pod): void {
    const name = pod.metadata?.name ?? '';
    if (!this.seenAt.has(name)) this.seenAt.set(name, Date.now());
    if (pod.metadata?.deletionTimestamp || pod.status?.phase !== 'Running' || !pod.status.podIP) return this.gone(pod);
    if (this.runtimes.has(name)) return;
    const ip = loopbackOnly(pod.status.podIP);
    const terminationLog = path.join(this.tmpDir, `termination-log-${name}`);
    const { args, env } = this.fromPod
      ? podProcess(pod, {
          project: this.project,
          nodeRoot: path.join(this.tmpDir, 'nodes'),
          terminationLog,
          secrets: this.secrets,
        })
      : { args: [cortexBin, 'serve', this.project, '--port', String(RUNTIME_PORT)], env: {} };
    const proc = execa(process.execPath, [...args, '--host', ip, '--grace-period', '1'], {
      reject: false,
      all: true,
      buffer: false,
      // a container's own home: no pip download cache from this machine's
      env: {
        ...env,
        ...(this.fromPod ? { HOME: path.join(this.tmpDir, 'homes', name) } : {}),
        ...this.env,
        CORTEX_TERMINATION_LOG: terminationLog,
      },
    });
    const rt: Runtime = {
      pod: name,
      ip,
      proc,
      ready: false,
      stopping: false,
      startedAt: performance.now(),
      startedEpoch: Date.now(),
    };
    proc.all?.on('data', (chunk: Buffer) =>
      this.log.push(
        ...chunk
          .toString()
          .split('\n')
          .filter(Boolean)
          .map((l) => `[${name} ${ip}] ${l}`),
      ),
    );
    void proc.then((r) => {
      if (!rt.stopping) this.log.push(`[${name} ${ip}] exited unexpectedly: ${r.exitCode ?? r.signal}`);
      rt.exited = true;
      if (this.runtimes.get(name) === rt) this.runtimes.delete(name);
    });
    this.runtimes.set(name, rt);
    this.started.push(name);
    void this.waitReady(rt, pod.spec?.nodeName ?? '');
  }

  private async waitReady(rt: Runtime, node: string): Promise<void> {
    const deadline = Date.now() + 10 * 60_000; // a first replica may install its requirements
    while (!rt.stopping && !rt.exited && Date.now() < deadline) {
      try {
        const res = await fetch(`http://${rt.ip}:${RUNTIME_PORT}/readyz`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.ok) {
          rt.ready = true;
          this.readyTimes.push({
            pod: rt.pod,
            node,
            ms: performance.now() - rt.startedAt,
            seenAt: this.seenAt.get(rt.pod) ?? rt.startedEpoch,
            startedAt: rt.startedEpoch,
            readyAt: Date.now(),
          });
          return;
        }
      } catch {
        // not listening yet
      }
      // short: the ready time is a measurement (bench/cold-start), not only a condition
      await sleep(50);
    }
  }

  private gone(pod: Pod): void {
    const name = pod.metadata?.name ?? '';
    const rt = this.runtimes.get(name);
    if (!rt || rt.stopping) return;
    rt.stopping = true;
    rt.ready = false;
    this.runtimes.delete(name);
    this.stopped.push(name);
    rt.proc.kill('SIGTERM');
  }

  /** IPs of the runtimes that answer /readyz. */
  readyIps(): string[] {
    return [...this.runtimes.values()].filter((r) => r.ready).map((r) => r.ip);
  }

  /** Pod names with a runtime process now. */
  pods(): string[] {
    return [...this.runtimes.keys()].sort();
  }

  async stop(): Promise<void> {
    await this.informer.stop();
    const all = [...this.runtimes.values()];
    this.runtimes.clear();
    for (const rt of all) {
      rt.stopping = true;
      rt.proc.kill('SIGTERM');
    }
    await Promise.all(all.map((rt) => rt.proc.catch(() => undefined)));
  }
}

/** Keeps `concurrency` requests in flight, round-robin over `targets()`, each sleeping sleepMs in the predictor. */
export function startLoad(
  targets: () => string[],
  options: { concurrency: number; sleepMs: number },
): { stop(): Promise<void>; ok: () => number; failed: () => number } {
  let stopped = false;
  let next = 0;
  let ok = 0;
  let failed = 0;
  const loop = async () => {
    while (!stopped) {
      const ips = targets();
      if (ips.length === 0) {
        await sleep(100);
        continue;
      }
      const ip = loopbackOnly(ips[next++ % ips.length]);
      try {
        const res = await fetch(`http://${ip}:${RUNTIME_PORT}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ sleep_ms: options.sleepMs }),
          signal: AbortSignal.timeout(30_000),
        });
        await res.arrayBuffer();
        if (res.ok) ok++;
        else failed++;
      } catch {
        failed++;
        await sleep(100);
      }
    }
  };
  const loops = Array.from({ length: options.concurrency }, loop);
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
    ok: () => ok,
    failed: () => failed,
  };
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  ms: number;
}

/** POST to the activator on loopback with the Host a Service's client would send. */
export function viaActivator(port: number, host: string, body: object): Promise<Answer> {
  const started = Date.now();
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        headers: { host, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (text += c))
          .on('end', () =>
            resolve({ status: res.statusCode!, headers: res.headers, body: text, ms: Date.now() - started }),
          );
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}
