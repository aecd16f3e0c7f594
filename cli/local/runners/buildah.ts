// buildah as a container runner, for machines where podman's OCI runtime cannot start
// containers but `buildah run --isolation chroot` can: `buildah from IMAGE` makes a working
// container, `buildah run --isolation chroot --network host` runs the command in its root file
// system, as the image's user, in the host's PID and network namespaces. There are no cgroup
// limits (compute is ignored) and no image ENTRYPOINT/CMD handling in buildah run, so the
// command is resolved here from the image's config as Kubernetes would.
//
// buildah answers a SIGTERM by killing its command outright, so a graceful stop signals the
// command's own process instead (process-tree.ts). `buildah run` gets a process group of its
// own: when its command ends on a SIGTERM, its group gets a SIGTERM too, which would otherwise
// be ours (the replica's); and a Ctrl-C at a terminal must reach our handler, not the command.
// Every container's processes carry CORTEX_CONTAINER=<name> in their environment: remove() ends
// those a killed replica's `buildah run` left.
import { readdirSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import { commandPid, signalTree } from './process-tree.ts';
import type { ContainerLaunch, ContainerRunner, RunningContainer } from './runner.ts';

const MARK = 'CORTEX_CONTAINER';

interface ImageConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
}

/** Kubernetes' rule: command replaces ENTRYPOINT and drops CMD; args replace CMD. */
export function resolveArgv(config: ImageConfig, command?: string[], args?: string[]): string[] {
  const entry = command ?? config.Entrypoint ?? [];
  const rest = args ?? (command !== undefined ? [] : (config.Cmd ?? []));
  return [...entry, ...rest];
}

export class BuildahRunner implements ContainerRunner {
  readonly name = 'buildah' as const;
  readonly computeNote = 'compute.cpu and compute.mem are ignored (buildah run sets no cgroup limits)';

  async missingImage(image: string): Promise<string | undefined> {
    const r = await execa('buildah', ['inspect', '--type', 'image', '--format', '{{.FromImageID}}', image], {
      reject: false,
    });
    if (r.exitCode === 0) return undefined;
    return (
      `image ${image} is not among the local images of buildah and podman, and the local environment does ` +
      `not pull: build it (podman build -t ${image} <folder>, or docker build and podman load) first`
    );
  }

  async run(launch: ContainerLaunch): Promise<RunningContainer> {
    await this.remove([launch.name]);
    await execa('buildah', ['from', '--pull=never', '--quiet', '--name', launch.name, launch.image]);
    const inspected = await execa('buildah', ['inspect', launch.name]);
    const { OCIv1 } = JSON.parse(inspected.stdout) as { OCIv1?: { config?: ImageConfig } };
    const argv = resolveArgv(OCIv1?.config ?? {}, launch.command, launch.args);
    if (argv.length === 0) {
      await this.remove([launch.name]);
      throw new Error(`image ${launch.image} has no ENTRYPOINT nor CMD, and the container sets no command`);
    }
    const base = ['run', '--isolation', 'chroot', '--network', 'host', '--env', `${MARK}=${launch.name}`];
    const args = [...base];
    for (const [k, v] of Object.entries(launch.env)) args.push('--env', `${k}=${v}`);
    const proc = execa('buildah', [...args, launch.name, '--', ...argv], {
      all: true,
      reject: false,
      buffer: false,
      stdin: 'ignore',
      detached: true,
    });
    return {
      name: launch.name,
      output: proc.all!,
      exited: proc.then((r) => ({ code: r.exitCode ?? null, signal: r.signal ?? null })),
      async exec(cmd) {
        const r = await execa('buildah', [...base, launch.name, '--', ...cmd], {
          reject: false,
          all: true,
          detached: true,
        });
        return r.exitCode ?? 1;
      },
      async stop(graceMs) {
        const inside = proc.pid === undefined ? undefined : commandPid(proc.pid);
        if (inside !== undefined) {
          try {
            process.kill(inside, 'SIGTERM');
          } catch {
            // gone
          }
        }
        const timer = setTimeout(() => {
          if (inside !== undefined) signalTree(inside, 'SIGKILL');
          proc.kill('SIGKILL');
        }, graceMs);
        await proc;
        clearTimeout(timer);
      },
    };
  }

  async remove(names: string[]): Promise<void> {
    for (const name of names) {
      for (const pid of markedProcesses(name)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await execa('buildah', ['rm', name], { reject: false });
    }
  }

  async list(prefix: string): Promise<string[]> {
    const r = await execa('buildah', ['containers', '--format', '{{.ContainerName}}'], { reject: false });
    return r.exitCode === 0 ? r.stdout.split('\n').filter((n) => n.startsWith(prefix)) : [];
  }
}

/** Processes of this user whose environment marks them as the container `name`'s. */
function markedProcesses(name: string): number[] {
  const mark = `\0${MARK}=${name}\0`;
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (`\0${readFileSync(`/proc/${entry}/environ`, 'latin1')}`.includes(mark)) found.push(Number(entry));
    } catch {
      // another user's, or gone
    }
  }
  return found;
}
