// The RealtimeAPI of fixtures/slow (its predictor sleeps as asked, or fails) and the runtimes
// that serve its pods (runtimes.ts), as the autoscaling cluster tests deploy them.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import type { Cluster } from '../cluster/cluster.ts';
import { KubeClient } from '../../operator/kube/client.ts';
import { PodRuntimes } from './runtimes.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The RealtimeAPI `namespace/name` of the slow fixture, as JSON for kubectl apply. */
export function slowApi(namespace: string, name: string, spec: { autoscaling: object; compute?: object }): string {
  return JSON.stringify({
    apiVersion: 'cortex.dev/v1alpha1',
    kind: 'RealtimeAPI',
    metadata: { name, namespace },
    spec: {
      predictor: { type: 'typescript', path: 'predictor.ts', image: 'fake.invalid/slow:1', threadsPerProcess: 16 },
      compute: spec.compute ?? { cpu: '100m' },
      autoscaling: spec.autoscaling,
    },
  });
}

/** A client of the cluster as its admin, and the started runtimes of the API's pods. */
export async function slowRuntimes(
  cluster: Cluster,
  namespace: string,
  api: string,
  tmpDir: string,
): Promise<{ client: KubeClient; runtimes: PodRuntimes }> {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const client = new KubeClient(kc);
  const runtimes = new PodRuntimes({ client, namespace, api, project: path.join(here, 'fixtures', 'slow'), tmpDir });
  await runtimes.start();
  return { client, runtimes };
}
