// Running the built images on a machine where crun cannot start containers: `buildah from IMAGE`
// makes a working container, `buildah run --isolation chroot --network host` runs a command in its
// root file system as the image's user, with volumes and env, in the host's PID and network
// namespaces. The image tests (images-run.test.ts, operator-image.cluster-test.ts) share this.
//
// buildah answers a SIGTERM by killing its command outright, so the kubelet's SIGTERM goes to the
// command's own process instead: the first descendant of `buildah run` that is not buildah
// (cli/local/runners/process-tree.ts, which the local environment's buildah runner uses too).

import { execa, type ResultPromise } from 'execa';
import { commandPid, signalTree } from '../../cli/local/runners/process-tree.ts';

export { commandPid };

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Why the images cannot be built and run here, or undefined when podman and buildah are there. */
export async function imagesUnavailable(): Promise<string | undefined> {
  for (const tool of ['podman', 'buildah']) {
    const r = await execa(tool, ['--version'], { reject: false });
    if (r.failed) {
      return (
        `${tool} is not installed, so the images are not built nor run ` +
        '(.ci/run installs podman, buildah and mmdebstrap with apt-get when it runs as root)'
      );
    }
  }
  return undefined;
}

/** The parts of an image's config the tests read (podman image inspect). */
export interface ImageConfig {
  User?: string;
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  Env?: string[];
}

export async function imageConfig(ref: string): Promise<ImageConfig> {
  const r = await execa('podman', ['image', 'inspect', '--format', '{{json .Config}}', ref]);
  return JSON.parse(r.stdout) as ImageConfig;
}

export interface RunOptions {
  /** host path → container path (read-only with `:ro`, as podman writes it). */
  volumes?: string[];
  env?: Record<string, string>;
  user?: string;
}

/** The working containers a test made, removed by name in its `after` (never anyone else's). */
export class Containers {
  private readonly names: string[] = [];
  private readonly running = new Set<ResultPromise>();

  private readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** A working container of `image`, named `<prefix>-<what>-<pid>`. */
  async from(image: string, what: string): Promise<string> {
    const name = `${this.prefix}-${what}-${process.pid}`;
    await execa('buildah', ['rm', name], { reject: false }); // a leftover of this very name, if any
    await execa('buildah', ['from', '--pull=never', '--quiet', '--name', name, image]);
    this.names.push(name);
    return name;
  }

  /** `buildah run` of `command` in `container`; not awaited here (a server runs in the background). */
  run(container: string, command: string[], options: RunOptions = {}): ResultPromise<{ all: true; reject: false }> {
    const args = ['run', '--isolation', 'chroot', '--network', 'host'];
    for (const v of options.volumes ?? []) args.push('-v', v);
    for (const [k, v] of Object.entries(options.env ?? {})) args.push('--env', `${k}=${v}`);
    if (options.user) args.push('--user', options.user);
    const proc = execa('buildah', [...args, container, '--', ...command], { all: true, reject: false });
    this.running.add(proc);
    void proc.finally(() => this.running.delete(proc));
    return proc;
  }

  /** Kills what still runs (the commands first: buildah waits for them), then removes the containers. */
  async removeAll(): Promise<void> {
    for (const proc of this.running) {
      const inside = proc.pid === undefined ? undefined : commandPid(proc.pid);
      if (inside !== undefined) signalTree(inside, 'SIGKILL');
      proc.kill('SIGKILL');
      await proc.catch(() => undefined);
    }
    for (const name of this.names.splice(0)) {
      const r = await execa('buildah', ['rm', name], { reject: false });
      if (r.exitCode !== 0) log(`buildah rm ${name}: ${r.stderr}`);
    }
  }
}

/** Sends `signal` to the command running under `buildah run` (as the kubelet signals a container's process). */
export function signalCommand(proc: ResultPromise, signal: NodeJS.Signals = 'SIGTERM'): void {
  const inside = proc.pid === undefined ? undefined : commandPid(proc.pid);
  if (inside === undefined) throw new Error(`no command runs under buildah run (pid ${proc.pid})`);
  process.kill(inside, signal);
}
