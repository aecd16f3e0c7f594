// Container runners of the local environment: what runs a pod API's containers (spec.pod,
// Cortex 0.36-0.42) on this machine. Tried in order, the first that works is used: docker (its
// daemon answers), podman (`podman run` starts a container; on kernels where crun cannot set
// rlimits it cannot), buildah (`buildah run --isolation chroot`, which works where podman's
// runtime does not). CORTEX_CONTAINER_RUNNER=<name>[,<name>] limits the choice.
import { execa } from 'execa';
import { onPath } from './on-path.ts';
import { BuildahRunner } from './buildah.ts';
import { EngineRunner } from './engine.ts';

export const RUNNER_ORDER = ['docker', 'podman', 'buildah'] as const;
export type RunnerName = (typeof RUNNER_ORDER)[number];

/** Environment variable that limits the runners tried (comma-separated names, in order). */
export const RUNNER_ENV = 'CORTEX_CONTAINER_RUNNER';

/** A container to start: command and args already expanded ($(CORTEX_PORT) and the others). */
export interface ContainerLaunch {
  /** Name of the container in the runner (unique on the machine). */
  name: string;
  image: string;
  /** Replaces the image's ENTRYPOINT (and then its CMD), as Kubernetes' command does. */
  command?: string[];
  /** Replaces the image's CMD. */
  args?: string[];
  env: Record<string, string>;
  /** compute.cpu in cores and compute.mem in bytes, where the runner limits them. */
  cpu?: number;
  memBytes?: number;
}

export interface ContainerExit {
  code: number | null;
  signal: string | null;
}

export interface RunningContainer {
  readonly name: string;
  /** Its stdout and stderr together. */
  readonly output: NodeJS.ReadableStream;
  readonly exited: Promise<ContainerExit>;
  /** Runs `command` inside it (pre_stop exec); its exit code. */
  exec(command: string[]): Promise<number>;
  /** SIGTERM to its command, SIGKILL after `graceMs`; resolves once it has ended. */
  stop(graceMs: number): Promise<void>;
}

export interface ContainerRunner {
  readonly name: RunnerName;
  /** What it does with compute.cpu and compute.mem, for the log. */
  readonly computeNote: string;
  /** Why `image` cannot be run (not in the runner's local images), or undefined. */
  missingImage(image: string): Promise<string | undefined>;
  run(launch: ContainerLaunch): Promise<RunningContainer>;
  /** Ends and removes these containers, whatever state they are in (unknown names are fine). */
  remove(names: string[]): Promise<void>;
  /** Names of its containers that start with `prefix`. */
  list(prefix: string): Promise<string[]>;
}

export interface Detection {
  runner?: ContainerRunner;
  /** Each runner tried before the chosen one (or all of them), and why it cannot run containers. */
  tried: { name: RunnerName; why: string }[];
}

const PROBE_TIMEOUT_MS = 20_000;

function lastLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .pop() ?? 'no output'
  );
}

/** Why `name` cannot run containers here, or undefined when it can. */
export async function whyNot(name: RunnerName, pathVar = process.env.PATH ?? ''): Promise<string | undefined> {
  if (onPath(name, pathVar) === undefined) return 'not installed (not on PATH)';
  const env = { PATH: pathVar };
  switch (name) {
    case 'docker': {
      const r = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], {
        reject: false,
        timeout: PROBE_TIMEOUT_MS,
        env,
      });
      return r.exitCode === 0 ? undefined : `its daemon is not reachable (docker info: ${lastLine(r.stderr)})`;
    }
    case 'podman': {
      // The host's own root file system as the container's: no image needed to see whether its
      // OCI runtime can start a container at all.
      const r = await execa('podman', ['run', '--rm', '--rootfs', '/', '--network', 'host', 'true'], {
        reject: false,
        timeout: PROBE_TIMEOUT_MS,
        env,
      });
      return r.exitCode === 0 ? undefined : `podman run cannot start a container (${lastLine(r.stderr)})`;
    }
    case 'buildah': {
      const probe = `cortex-probe-${process.pid}`;
      const r = await execa('buildah', ['from', '--quiet', '--name', probe, 'scratch'], {
        reject: false,
        timeout: PROBE_TIMEOUT_MS,
        env,
      });
      await execa('buildah', ['rm', probe], { reject: false, env });
      return r.exitCode === 0 ? undefined : `buildah from cannot make a container (${lastLine(r.stderr)})`;
    }
  }
}

/** The runners to try: CORTEX_CONTAINER_RUNNER's, or all of them in order. */
export function runnersToTry(env: NodeJS.ProcessEnv = process.env): RunnerName[] {
  const wanted = (env[RUNNER_ENV] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (wanted.length === 0) return [...RUNNER_ORDER];
  const unknown = wanted.filter((w) => !(RUNNER_ORDER as readonly string[]).includes(w));
  if (unknown.length > 0) {
    throw new Error(
      `${RUNNER_ENV}=${env[RUNNER_ENV]}: unknown runner ${unknown.join(', ')} (use ${RUNNER_ORDER.join(', ')})`,
    );
  }
  return wanted as RunnerName[];
}

export function makeRunner(name: RunnerName): ContainerRunner {
  return name === 'buildah' ? new BuildahRunner() : new EngineRunner(name);
}

/** Tries the runners in order; the first that works is chosen. */
export async function detectRunner(env: NodeJS.ProcessEnv = process.env): Promise<Detection> {
  const tried: Detection['tried'] = [];
  for (const name of runnersToTry(env)) {
    const why = await whyNot(name, env.PATH ?? '');
    if (why === undefined) return { runner: makeRunner(name), tried };
    tried.push({ name, why });
  }
  return { tried };
}

let cached: { key: string; detection: Promise<Detection> } | undefined;

/** detectRunner, once per process (per supervisor) and setting of CORTEX_CONTAINER_RUNNER and PATH. */
export function detectRunnerOnce(env: NodeJS.ProcessEnv = process.env): Promise<Detection> {
  const key = `${env[RUNNER_ENV] ?? ''}\0${env.PATH ?? ''}`;
  if (cached?.key !== key) cached = { key, detection: detectRunner(env) };
  return cached.detection;
}

/** "docker: its daemon is not reachable (...); podman: ..." */
export function describeTried(tried: Detection['tried']): string {
  return tried.map((t) => `${t.name}: ${t.why}`).join('; ');
}
