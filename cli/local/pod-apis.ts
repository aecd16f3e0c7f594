// Pod APIs (spec.pod, Cortex 0.36-0.42's containers) in the local environment. The local
// environment runs APIs as processes on this machine, under its supervisor; a pod API is images,
// which only a container runner can run. It refuses them before anything changes, naming the
// runners on this machine and what to do: deploy to a cluster environment, or run the containers
// and `cortex proxy` by hand (the commands are printed, with the API's own settings).
//
// Why not run them with docker or podman from the supervisor: on the machines this project is
// built on there is no Docker engine and `podman run` cannot start containers (crun fails; only
// `buildah run --isolation chroot` works, which is no way to serve), and registries other than
// package registries are out of reach, so no user image could be pulled either. A runner-backed
// local replica is future work (docs/cortex-0.42.md).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PROXY_PORTS, isPodApi, type PodApiSpec } from '../../operator/api/v1alpha1/index.ts';
import type { LoadedProject } from '../config/load.ts';
import { CliError, ExitCode } from '../errors.ts';

export const CONTAINER_RUNNERS = ['docker', 'podman'] as const;

/** The first executable named `name` on PATH, or undefined. */
export function onPath(name: string, pathVar = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathVar.split(path.delimiter)) {
    if (dir !== '' && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/** Throws a CliError naming every pod API of the project and what to do instead; nothing when there are none. */
export function refusePodApisLocally(project: LoadedProject, pathVar?: string): void {
  const pods = project.apis.filter((a) => isPodApi(a.spec));
  if (pods.length === 0) return;
  const found = CONTAINER_RUNNERS.filter((r) => onPath(r, pathVar) !== undefined);
  const runner = found[0] ?? 'docker';
  const looked = `${CONTAINER_RUNNERS.join(', ')} on PATH`;
  const lines = [
    `${project.file}: ${pods.map((a) => a.name).join(', ')} ${pods.length === 1 ? 'runs its' : 'run their'} own ` +
      'containers (pod:), and the local environment runs APIs as processes on this machine, not images.',
    `Container runners on this machine: ${found.length > 0 ? found.join(', ') : `none (looked for ${looked})`}.`,
    'Fix: deploy to a cluster environment (cortex deploy --env <name>; cortex env list), ' +
      `or run ${pods.length === 1 ? 'it' : 'each'} by hand, e.g.:`,
    ...pods.flatMap((a) => byHand(a.name, a.spec as PodApiSpec, runner)),
    'Nothing was deployed.',
  ];
  throw new CliError(lines.join('\n'), ExitCode.Usage);
}

/** The commands that run one pod API's replica: its containers on the host network, then the proxy. */
function byHand(name: string, spec: PodApiSpec, runner: string): string[] {
  const { pod } = spec;
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const containers = pod.containers.map((c) => {
    const env = Object.entries({ ...c.env, CORTEX_PORT: String(pod.port) }).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    const entry = c.command !== undefined ? ['--entrypoint', c.command[0]] : [];
    const rest = [...(c.command?.slice(1) ?? []), ...(c.args ?? [])].map((v) =>
      v.replace(/\$\(CORTEX_PORT\)/g, String(pod.port)),
    );
    const words = [runner, 'run', '--rm', '-d', '--network', 'host', ...env, ...entry, c.image, ...rest];
    return `  ${words.map(quote).join(' ')}`;
  });
  const proxy =
    `  cortex proxy --api ${name} --upstream-port ${pod.port} --max-concurrency ${pod.maxConcurrency} ` +
    `--max-queue-length ${pod.maxQueueLength} --port ${PROXY_PORTS.traffic}`;
  return [`  # ${name}`, ...containers, proxy];
}
