// The operator as a local process with its metrics API on (on 127.0.0.1), registered with the
// API server as the chart does it: the APIServices of custom.metrics.k8s.io and a Service, here an
// ExternalName one pointing at this process instead of the operator's pods. This cluster's pod
// IPs are loopback addresses the test serves itself (runtimes.ts), so the adapter scrapes them.
import { OPERATOR_NAMESPACE, type Cluster } from '../cluster/cluster.ts';
import { freePort } from '../cluster/ports.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { waitFor } from '../helpers/wait.ts';
import { metricsApiObjects } from '../../operator/metrics-adapter/manifests.ts';

/** Starts the operator (with `extraArgs`) and waits until the API server serves its metrics API. */
export async function operatorWithMetricsApi(
  cluster: Cluster,
  dir: string,
  nodePoolsFile: string,
  extraArgs: string[] = [],
): Promise<OperatorProcess> {
  const port = await freePort();
  const operator = await startOperator(cluster, dir, {
    nodePoolsFile,
    extraArgs: [
      '--metrics-api',
      '--metrics-api-port',
      String(port),
      '--metrics-api-bind-address',
      '127.0.0.1',
      ...extraArgs,
    ],
  });
  await waitFor(
    'the operator to serve the metrics API',
    async () => operator.logs.some((l) => l.includes('"metrics API serving"')),
    60_000,
  );
  const objects = metricsApiObjects({ namespace: OPERATOR_NAMESPACE, externalName: 'localhost', targetPort: port });
  await cluster.kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  });
  await cluster.kubectl([
    'wait',
    '--for=condition=Available',
    '--timeout=90s',
    'apiservice/v1beta2.custom.metrics.k8s.io',
    'apiservice/v1beta1.custom.metrics.k8s.io',
  ]);
  return operator;
}
