// A pod API's replica as local processes, as the kubelet would run the pod the operator wrote:
// each user container's command and args (with $(VAR) expanded from its env, as the kubelet
// does) in `workdir`, standing in for the image, and the cortex-proxy container's `cortex proxy`
// command with the real CLI. There is no kubelet here (kwok's nodes), so tests that need a pod
// API to serve start it this way. `host`: the address the proxy binds (a pod's loopback IP in the
// cluster tests); ports: the proxy's, overriding 8888/15000 where a test cannot use them.
import { spawn, type ChildProcess } from 'node:child_process';
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import { PROXY_CONTAINER_NAME } from '../../operator/api/v1alpha1/index.ts';
import { cortexBin } from './serve.ts';
import { waitFor } from './wait.ts';

export interface PodApiProcesses {
  /** The proxy's traffic URL and admin URL. */
  url: string;
  admin: string;
  /** Lines every process wrote, prefixed with its container's name. */
  logs: string[];
  processes: Map<string, ChildProcess>;
  stop(): Promise<void>;
}

function envOf(c: V1Container): Record<string, string> {
  return Object.fromEntries((c.env ?? []).map((e) => [e.name, String(e.value ?? '')]));
}

/** The kubelet's $(VAR) expansion of command and args: from the container's env; $$ escapes. */
export function expand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) =>
    m === '$$' ? '$' : name !== undefined && Object.hasOwn(env, name) ? env[name] : m,
  );
}

export async function startPodApi(
  pod: Pick<V1PodSpec, 'containers'>,
  options: { workdir: string; host: string; port: number; adminPort: number },
): Promise<PodApiProcesses> {
  const logs: string[] = [];
  const processes = new Map<string, ChildProcess>();
  const run = (name: string, bin: string, args: string[], env: Record<string, string>) => {
    const child = spawn(bin, args, { cwd: options.workdir, env: { ...process.env, ...env }, stdio: 'pipe' });
    const collect = (chunk: Buffer) =>
      logs.push(
        ...chunk
          .toString()
          .split('\n')
          .filter(Boolean)
          .map((l) => `[${name}] ${l}`),
      );
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    processes.set(name, child);
  };
  for (const c of pod.containers) {
    if (c.name === PROXY_CONTAINER_NAME) continue;
    const env = envOf(c);
    const [bin, ...rest] = [...(c.command ?? []), ...(c.args ?? [])].map((v) => expand(v, env));
    run(c.name, bin, rest, env);
  }
  const proxy = pod.containers.find((c) => c.name === PROXY_CONTAINER_NAME);
  if (!proxy?.command || proxy.command[0] !== 'cortex') throw new Error('the pod has no cortex proxy container');
  const flags = ['--host', options.host, '--port', String(options.port), '--admin-port', String(options.adminPort)];
  run(PROXY_CONTAINER_NAME, process.execPath, [cortexBin, ...proxy.command.slice(1), ...flags], envOf(proxy));

  const admin = `http://${options.host}:${options.adminPort}`;
  await waitFor(
    'the pod API to be ready (its proxy and container)',
    async () => {
      for (const [name, child] of processes) {
        if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}:\n${logs.join('\n')}`);
      }
      const res = await fetch(`${admin}/readyz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      await res?.arrayBuffer();
      return res?.ok;
    },
    30_000,
  );
  return {
    url: `http://${options.host}:${options.port}`,
    admin,
    logs,
    processes,
    async stop() {
      await Promise.all(
        [...processes.values()].map(async (child) => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await exited;
        }),
      );
    },
  };
}
