// The API's Service: port 80 in front of the replicas' cortex serve (8888); for a gRPC API the port
// is named grpc, with appProtocol kubernetes.io/h2c (grpc.ts).

import type { V1Service } from '@kubernetes/client-node';
import { SERVICES } from '../kube/resources.ts';
import { RUNTIME_PORT } from './deployment.ts';
import { grpcServicePort } from './grpc.ts';
import { isGrpcApi } from '../api/v1alpha1/index.ts';
import {
  API_LABEL,
  childMetadata,
  ruleOn,
  type ApiInstance,
  type ChildConfig,
  type ChildReconciler,
  type PolicyRule,
} from './types.ts';

export const SERVICE_PORT = 80;

export const serviceRbac: PolicyRule[] = [ruleOn(SERVICES, ['get', 'list', 'watch', 'create', 'patch'])];

/** The in-cluster URL of the API. */
export function endpointOf(
  api: Pick<ApiInstance, 'name' | 'namespace'>,
  config: Pick<ChildConfig, 'clusterDomain'>,
): string {
  return `http://${api.name}.${api.namespace}.svc.${config.clusterDomain}/`;
}

export function desiredService(api: ApiInstance, _config: ChildConfig): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(api),
    spec: {
      type: 'ClusterIP',
      selector: { [API_LABEL]: api.name },
      ports: [
        isGrpcApi(api.spec)
          ? grpcServicePort(SERVICE_PORT, RUNTIME_PORT)
          : { name: 'http', protocol: 'TCP', port: SERVICE_PORT, targetPort: RUNTIME_PORT },
      ],
    },
  };
}

export const serviceReconciler: ChildReconciler<V1Service> = {
  resource: SERVICES,
  desired: desiredService,
  rbac: serviceRbac,
};
