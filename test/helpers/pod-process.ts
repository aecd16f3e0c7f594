// A pod's `api` container as a local process, as the kubelet would start it: its command and env
// from the pod the API server has, its volumes mapped to folders on this machine. There is no
// kubelet here (kwok's nodes), so tests that need replicas to really serve start them this way.
//   - the project (/mnt/project): a folder standing in for the image or the unpacked bundle;
//   - a hostPath volume: <nodeRoot>/<the pod's node>/<hostPath>, one folder per fake node, so
//     that what a node shares (the dependency cache) is shared only by the pods on that node;
//   - a secret volume: the folder `secrets` gives for the Secret, which the test keeps in step
//     with the Secret as the kubelet would (secret volumes it does not map are left out).
// Every path in the command and the env under a mount is rewritten to its local folder.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { CONTAINER_NAME, PROJECT_DIR } from '../../operator/reconcilers/deployment.ts';
import { cortexBin } from './serve.ts';

export interface PodProcessOptions {
  /** The folder standing in for PROJECT_DIR. */
  project: string;
  /** Root of the fake nodes' file systems (hostPath volumes). */
  nodeRoot: string;
  /** Termination-log file of the process. */
  terminationLog: string;
  /** The local folder standing in for a mounted Secret, by the Secret's name. */
  secrets?: (secretName: string) => string | undefined;
}

/** The `node cortex.ts ...` arguments and the env that run `pod`'s api container here. */
export function podProcess(pod: V1Pod, options: PodProcessOptions): { args: string[]; env: Record<string, string> } {
  const spec = pod.spec!;
  const container = spec.containers.find((c) => c.name === CONTAINER_NAME);
  if (!container?.command) throw new Error(`pod ${pod.metadata?.name} has no ${CONTAINER_NAME} container command`);
  const [bin, ...args] = container.command;
  if (bin !== 'cortex') throw new Error(`the ${CONTAINER_NAME} container runs ${bin}, not cortex`);

  const mounts = new Map<string, string>([[PROJECT_DIR, options.project]]);
  for (const m of container.volumeMounts ?? []) {
    const secretName = spec.volumes?.find((v) => v.name === m.name)?.secret?.secretName;
    const secretDir = secretName === undefined ? undefined : options.secrets?.(secretName);
    if (secretDir !== undefined) mounts.set(m.mountPath, secretDir);
    const hostPath = spec.volumes?.find((v) => v.name === m.name)?.hostPath?.path;
    if (hostPath === undefined) continue;
    const local = path.join(options.nodeRoot, spec.nodeName ?? 'unscheduled', hostPath);
    mkdirSync(local, { recursive: true });
    mounts.set(m.mountPath, local);
  }
  const local = (value: string): string => {
    for (const [mountPath, dir] of mounts) {
      if (value === mountPath || value.startsWith(`${mountPath}/`)) return dir + value.slice(mountPath.length);
    }
    return value;
  };
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) env[e.name] = local(e.value ?? '');
  env.CORTEX_TERMINATION_LOG = options.terminationLog;
  return { args: [cortexBin, ...args.map(local)], env };
}
