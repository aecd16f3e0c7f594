// What differs for a gRPC API (predictor.protobufPath, docs/grpc.md) in its Deployment and Service:
// cortex serve speaks gRPC over h2c on the runtime port and keeps /healthz, /readyz and /metrics on
// the admin port, so the probes are a TCP check (listening: alive) and the kubelet's gRPC probe
// (the standard health service: SERVING once every worker is ready), and the Service's port is
// named grpc with appProtocol kubernetes.io/h2c so Gateways and meshes speak HTTP/2 to it.

import type { V1Container, V1ServicePort } from '@kubernetes/client-node';

/** cortex serve --admin-port in a gRPC API's replicas (runtime/grpc/admin.ts); pod APIs' proxy uses it too. */
export const GRPC_ADMIN_PORT = 15000;

/** The container's ports, probes and extra serve arguments for a gRPC API listening on `port`. */
export function grpcContainer(
  port: number,
): Pick<V1Container, 'ports' | 'startupProbe' | 'livenessProbe' | 'readinessProbe'> & { args: string[] } {
  return {
    args: ['--admin-port', String(GRPC_ADMIN_PORT)],
    ports: [
      { name: 'grpc', containerPort: port, protocol: 'TCP' },
      { name: 'admin', containerPort: GRPC_ADMIN_PORT, protocol: 'TCP' },
    ],
    // listening: dependencies install before that, so the startup probe gives them up to 30 minutes
    startupProbe: { tcpSocket: { port: 'grpc' }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 360 },
    livenessProbe: { tcpSocket: { port: 'grpc' }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
    // grpc.health.v1.Health/Check: SERVING once every worker finished __init__, NOT_SERVING while draining
    readinessProbe: { grpc: { port }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 },
  };
}

/** The Service port of a gRPC API. */
export function grpcServicePort(port: number, targetPort: number): V1ServicePort {
  return { name: 'grpc', protocol: 'TCP', port, targetPort, appProtocol: 'kubernetes.io/h2c' };
}
