// What the cluster benches share (dependency-cache.ts, cold-start/cluster.ts): the real test
// control plane (test/cluster) with one schedulable kwok node, the operator as a local process
// (its metrics API and activator on loopback) and, per API, real `cortex serve` replicas started
// from each Running pod's own command and env on its loopback pod IP (test/autoscaling/runtimes.ts,
// test/helpers/pod-process.ts). Pod scheduling and the pod IP are kwok's: test plumbing.
import { rmSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { LOOPBACK_POD_CIDR, type Cluster } from '../test/cluster/cluster.ts';
import { freePort } from '../test/cluster/ports.ts';
import { PodRuntimes } from '../test/autoscaling/runtimes.ts';
import { loopbackScalingArgs, startOperator, type OperatorProcess } from '../test/helpers/operator.ts';
import { startTestCluster } from '../test/helpers/test-cluster.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { KubeClient } from '../operator/kube/client.ts';

export interface ApiSpec {
  name: string;
  predictor: object;
  autoscaling: object;
  compute?: object;
}

export interface ClusterReplicas {
  dir: string;
  cluster: Cluster;
  operator: OperatorProcess;
  activatorPort: number;
  namespace: string;
  /** Starts real replicas for the pods of `api`, its project folder standing in for the image. */
  runtimes(api: string, project: string): Promise<PodRuntimes>;
  /** Server-side applies the RealtimeAPI. */
  apply(api: ApiSpec): Promise<void>;
  /** Deletes the RealtimeAPI and waits until its replicas are gone. */
  remove(api: string, rt: PodRuntimes): Promise<void>;
  stop(): Promise<void>;
}

export function realtimeApi(namespace: string, api: ApiSpec): string {
  return JSON.stringify({
    apiVersion: 'cortex.dev/v1alpha1',
    kind: 'RealtimeAPI',
    metadata: { name: api.name, namespace },
    spec: { predictor: api.predictor, compute: api.compute ?? { cpu: '100m' }, autoscaling: api.autoscaling },
  });
}

/** Waits until `rt` has seen `n` replicas ready; on timeout the error carries the replicas' last log lines. */
export function readyCount(rt: PodRuntimes, n: number, what: string, ms = 15 * 60_000): Promise<boolean> {
  return waitFor(what, async () => rt.readyTimes.length >= n, ms).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\n${rt.log.slice(-30).join('\n')}`);
  });
}

/**
 * The cluster, its namespace and the operator with scale to zero on. `prefix` names the temporary
 * folder; kwok-cpu-1 is cordoned so every replica lands on one node (one dependency cache).
 */
export async function startClusterReplicas(
  prefix: string,
  namespace: string,
  options: { activatorTimeout?: string; operatorArgs?: string[] } = {},
): Promise<ClusterReplicas> {
  const { dir, poolsFile, cluster } = await startTestCluster(prefix, namespace, { podCidr: LOOPBACK_POD_CIDR });
  const all: PodRuntimes[] = [];
  let operator: OperatorProcess | undefined;
  const stop = async () => {
    await Promise.all(all.map((rt) => rt.stop()));
    await operator?.stop();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await cluster.kubectl(['cordon', 'kwok-cpu-1']);
    const activatorPort = await freePort();
    operator = await startOperator(cluster, dir, {
      nodePoolsFile: poolsFile,
      extraArgs: [
        ...(await loopbackScalingArgs(activatorPort, options.activatorTimeout ?? '300s')),
        ...(options.operatorArgs ?? []),
      ],
    });
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    const client = new KubeClient(kc);
    return {
      dir,
      cluster,
      operator,
      activatorPort,
      namespace,
      async runtimes(api, project) {
        const rt = new PodRuntimes({ client, namespace, api, project, tmpDir: dir, fromPod: true });
        all.push(rt);
        await rt.start();
        return rt;
      },
      async apply(api) {
        await cluster.kubectl(['apply', '--server-side', '--field-manager=bench', '-f', '-'], {
          input: realtimeApi(namespace, api),
        });
      },
      async remove(api, rt) {
        await cluster.kubectl(['delete', 'realtimeapi', api, '-n', namespace, '--wait=true']);
        await waitFor(`the replicas of ${api} to stop`, async () => rt.pods().length === 0, 120_000);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
