// docker and podman: the same command line. Each container runs attached (`run` in the
// foreground, its output on our pipe), on the host network, never pulled (no registry needs to be
// reachable: images are built or pulled beforehand), removed when it ends.
import { execa } from 'execa';
import type { ContainerLaunch, ContainerRunner, RunningContainer } from './runner.ts';

export class EngineRunner implements ContainerRunner {
  readonly name: 'docker' | 'podman';
  readonly computeNote = 'compute.cpu and compute.mem are limits (--cpus, --memory)';

  constructor(name: 'docker' | 'podman') {
    this.name = name;
  }

  async missingImage(image: string): Promise<string | undefined> {
    const r = await execa(this.name, ['image', 'inspect', '--format', '{{.Id}}', image], { reject: false });
    if (r.exitCode === 0) return undefined;
    return (
      `image ${image} is not among ${this.name}'s local images, and the local environment does not pull: ` +
      `build it (${this.name} build -t ${image} <folder>) or pull it (${this.name} pull ${image}) first`
    );
  }

  async run(launch: ContainerLaunch): Promise<RunningContainer> {
    await this.remove([launch.name]); // a leftover of this very name, if any
    const args = ['run', '--rm', '--name', launch.name, '--network', 'host', '--pull', 'never'];
    for (const [k, v] of Object.entries(launch.env)) args.push('--env', `${k}=${v}`);
    if (launch.cpu !== undefined && launch.cpu > 0) args.push('--cpus', String(launch.cpu));
    if (launch.memBytes !== undefined && launch.memBytes > 0) args.push('--memory', `${Math.ceil(launch.memBytes)}b`);
    const command = launch.command ?? [];
    if (command.length > 0) args.push('--entrypoint', command[0]);
    args.push(launch.image, ...command.slice(1), ...(launch.args ?? []));
    // A process group of its own, as buildah's (buildah.ts): a Ctrl-C or the replica's signals reach
    // the replica, which drains first and then stops the container itself.
    const proc = execa(this.name, args, { all: true, reject: false, buffer: false, stdin: 'ignore', detached: true });
    const engine = this.name;
    return {
      name: launch.name,
      output: proc.all!,
      exited: proc.then((r) => ({ code: r.exitCode ?? null, signal: r.signal ?? null })),
      async exec(cmd) {
        const r = await execa(engine, ['exec', launch.name, ...cmd], { reject: false, all: true });
        return r.exitCode ?? 1;
      },
      async stop(graceMs) {
        await execa(engine, ['stop', '--time', String(Math.ceil(graceMs / 1000)), launch.name], { reject: false });
        proc.kill('SIGKILL'); // the attached client, once the container has ended
        await proc;
      },
    };
  }

  async remove(names: string[]): Promise<void> {
    if (names.length === 0) return;
    await execa(this.name, ['rm', '--force', ...names], { reject: false });
  }

  async list(prefix: string): Promise<string[]> {
    const r = await execa(this.name, ['ps', '--all', '--format', '{{.Names}}'], { reject: false });
    return r.exitCode === 0 ? r.stdout.split('\n').filter((n) => n.startsWith(prefix)) : [];
  }
}
