// Pod APIs (spec.pod, Cortex 0.36-0.42's containers) in the local environment: a replica is the
// API's containers, run by the first container runner that works here (runners/runner.ts), with
// cortex proxy in front (pod-serve.ts). Before anything changes, `cortex deploy` checks that a
// runner works and that every image is in its local images; when no runner works it refuses,
// naming each runner tried and why it failed, and what to do: deploy to a cluster environment,
// or run the containers and `cortex proxy` by hand (the commands are printed, with the API's own
// settings).
import { PROXY_PORTS, isPodApi, type PodApiSpec } from '../../operator/api/v1alpha1/index.ts';
import type { LoadedProject } from '../config/load.ts';
import { CliError, ExitCode } from '../errors.ts';
import { describeTried, detectRunnerOnce, type Detection } from './runners/runner.ts';

/**
 * Why no pod API can run here, with the fix: `names` the APIs, `tried` what each runner said,
 * `where` the file or API the message is about.
 */
export function refusalMessage(
  names: string[],
  tried: Detection['tried'],
  where: string,
  pods: { name: string; spec: PodApiSpec }[],
): string {
  const runner = tried.find((t) => !t.why.startsWith('not installed'))?.name ?? 'docker';
  return [
    `${where}: ${names.join(', ')} ${names.length === 1 ? 'runs its' : 'run their'} own containers (pod:), ` +
      'and no container runner works on this machine to run them locally.',
    `Container runners tried: ${describeTried(tried)}.`,
    'Fix: start the Docker daemon or install podman (or buildah); or deploy to a cluster environment ' +
      `(cortex deploy --env <name>; cortex env list); or run ${pods.length === 1 ? 'it' : 'each'} by hand, e.g.:`,
    ...pods.flatMap((a) => byHand(a.name, a.spec, runner)),
    'Nothing was deployed.',
  ].join('\n');
}

/**
 * Before a local deploy changes anything: a container runner works (else the refusal above) and
 * every pod API's images are in its local images. Nothing when the project has no pod API.
 */
export async function checkPodApisLocally(project: LoadedProject, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const pods = project.apis.filter((a) => isPodApi(a.spec)) as { name: string; spec: PodApiSpec }[];
  if (pods.length === 0) return;
  let detection: Detection;
  try {
    detection = await detectRunnerOnce(env);
  } catch (error) {
    throw new CliError(`${(error as Error).message}\nNothing was deployed.`, ExitCode.Usage);
  }
  const runner = detection.runner;
  if (runner === undefined) {
    throw new CliError(
      refusalMessage(
        pods.map((a) => a.name),
        detection.tried,
        project.file,
        pods,
      ),
      ExitCode.Usage,
    );
  }
  const missing: string[] = [];
  for (const { name, spec } of pods) {
    for (const c of spec.pod.containers) {
      const why = await runner.missingImage(c.image);
      if (why) missing.push(`${project.file}: API ${name}, pod.containers ${c.name}: ${why}`);
    }
  }
  if (missing.length > 0) throw new CliError([...missing, 'Nothing was deployed.'].join('\n'), ExitCode.Usage);
}

/** The commands that run one pod API's replica: its containers on the host network, then the proxy. */
function byHand(name: string, spec: PodApiSpec, runner: string): string[] {
  const { pod } = spec;
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const engine = runner === 'buildah' ? 'podman' : runner;
  const containers = pod.containers.map((c) => {
    const env = Object.entries({ ...c.env, CORTEX_PORT: String(pod.port) }).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    const entry = c.command !== undefined ? ['--entrypoint', c.command[0]] : [];
    const rest = [...(c.command?.slice(1) ?? []), ...(c.args ?? [])].map((v) =>
      v.replace(/\$\(CORTEX_PORT\)/g, String(pod.port)),
    );
    const words = [engine, 'run', '--rm', '-d', '--network', 'host', ...env, ...entry, c.image, ...rest];
    return `  ${words.map(quote).join(' ')}`;
  });
  const proxy =
    `  cortex proxy --api ${name} --upstream-port ${pod.port} --max-concurrency ${pod.maxConcurrency} ` +
    `--max-queue-length ${pod.maxQueueLength} --port ${PROXY_PORTS.traffic}`;
  return [`  # ${name}`, ...containers, proxy];
}
