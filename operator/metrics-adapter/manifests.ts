// What registers the operator's metrics API with the cluster: one APIService per version of
// custom.metrics.k8s.io, both pointing at one Service in front of the operator. The Helm chart
// renders these; tests register them with an ExternalName Service to a local operator.

import type { KubeObject } from '../kube/client.ts';
import { GROUP, VERSIONS } from './api.ts';

export const METRICS_API_SERVICE = 'cortex-operator-metrics-api';

export interface MetricsApiObjectsOptions {
  /** The operator's namespace (the Service's). */
  namespace: string;
  /** Service name. Default: cortex-operator-metrics-api. */
  serviceName?: string;
  /** The port the API server dials on the Service. Default 443. */
  port?: number;
  /** The operator's --metrics-api-port. Default 6443. */
  targetPort?: number;
  /** Labels of the operator's pods (a ClusterIP Service selects them). */
  selector?: Record<string, string>;
  /** Instead of selecting pods: an ExternalName Service (a local operator in tests: "localhost"). */
  externalName?: string;
  /**
   * PEM CA of the serving certificate; without it the API server skips verification (a
   * self-signed certificate made at start cannot be known ahead).
   */
  caBundle?: string;
  labels?: Record<string, string>;
}

/** The Service and the APIServices (v1beta2, v1beta1) of custom.metrics.k8s.io. */
export function metricsApiObjects(o: MetricsApiObjectsOptions): KubeObject[] {
  const name = o.serviceName ?? METRICS_API_SERVICE;
  const labels = { 'app.kubernetes.io/name': 'cortex-operator', ...o.labels };
  const targetPort = o.targetPort ?? 6443;
  const port = o.externalName !== undefined ? targetPort : (o.port ?? 443);
  const service: KubeObject =
    o.externalName !== undefined
      ? {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name, namespace: o.namespace, labels },
          spec: { type: 'ExternalName', externalName: o.externalName },
        }
      : {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name, namespace: o.namespace, labels },
          spec: {
            type: 'ClusterIP',
            selector: o.selector ?? { 'app.kubernetes.io/name': 'cortex-operator' },
            ports: [{ name: 'metrics-api', port, targetPort, protocol: 'TCP' }],
          },
        };
  const apiServices = VERSIONS.map((version): KubeObject => ({
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: { name: `${version}.${GROUP}`, labels },
    spec: {
      group: GROUP,
      version,
      // the group is shared with other adapters (prometheus-adapter uses 100); only one may serve it
      groupPriorityMinimum: 100,
      versionPriority: version === 'v1beta2' ? 200 : 100, // v1beta2 preferred
      service: { namespace: o.namespace, name, port },
      ...(o.caBundle ? { caBundle: Buffer.from(o.caBundle).toString('base64') } : { insecureSkipTLSVerify: true }),
    },
  }));
  return [service, ...apiServices];
}
