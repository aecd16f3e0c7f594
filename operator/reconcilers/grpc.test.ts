// A gRPC API's Deployment and Service (grpc.ts): h2c port named grpc, TCP and gRPC probes, the
// admin port for metrics; an HTTP API's stay as they were.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults } from '../api/v1alpha1/index.ts';
import { selectPool } from '../node-pools.ts';
import { deploymentReconciler, RUNTIME_PORT } from './deployment.ts';
import { desiredService, SERVICE_PORT } from './service.ts';
import { GRPC_ADMIN_PORT } from './grpc.ts';
import type { ApiInstance, ChildConfig } from './types.ts';

function api(protobufPath?: string): ApiInstance {
  const predictor = { type: 'python' as const, path: 'handler.py', image: 'registry.example.com/echo:1' };
  return {
    name: 'echo',
    namespace: 'ml',
    uid: 'uid-1',
    generation: 1,
    spec: applyDefaults('echo', { predictor: protobufPath ? { ...predictor, protobufPath } : predictor }),
  };
}

function config(a: ApiInstance): ChildConfig {
  const choice = selectPool(a.spec.compute, {
    pools: [{ name: 'cpu', nodeSelector: {}, tolerations: [] }],
    source: 't',
  });
  return {
    runtimeImage: 'cortex/runtime:test',
    hpaTolerance: true,
    clusterDomain: 'cluster.local',
    placement: choice.placement!,
  };
}

test('gRPC API: Service port grpc with appProtocol kubernetes.io/h2c; HTTP API: port http', () => {
  const grpcApi = api('protos/echo.proto');
  assert.deepEqual(desiredService(grpcApi, config(grpcApi)).spec?.ports, [
    { name: 'grpc', protocol: 'TCP', port: SERVICE_PORT, targetPort: RUNTIME_PORT, appProtocol: 'kubernetes.io/h2c' },
  ]);
  const httpApi = api();
  assert.deepEqual(desiredService(httpApi, config(httpApi)).spec?.ports, [
    { name: 'http', protocol: 'TCP', port: SERVICE_PORT, targetPort: RUNTIME_PORT },
  ]);
});

test('gRPC API: serve --admin-port, TCP and gRPC probes (no HTTP on the h2c port), metrics scraped on admin', () => {
  const a = api('protos/echo.proto');
  const d = deploymentReconciler.desired(a, config(a));
  const [c] = d.spec!.template.spec!.containers;
  assert.deepEqual(c.command?.slice(-2), ['--admin-port', String(GRPC_ADMIN_PORT)]);
  assert.deepEqual(c.ports, [
    { name: 'grpc', containerPort: RUNTIME_PORT, protocol: 'TCP' },
    { name: 'admin', containerPort: GRPC_ADMIN_PORT, protocol: 'TCP' },
  ]);
  assert.deepEqual(c.readinessProbe?.grpc, { port: RUNTIME_PORT });
  assert.deepEqual(c.livenessProbe?.tcpSocket, { port: 'grpc' });
  assert.deepEqual(c.startupProbe?.tcpSocket, { port: 'grpc' });
  for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) assert.equal(probe?.httpGet, undefined);
  assert.equal(d.spec!.template.metadata!.annotations!['prometheus.io/port'], String(GRPC_ADMIN_PORT));
  const http = deploymentReconciler.desired(api(), config(api())).spec!.template.spec!.containers[0];
  assert.deepEqual(http.readinessProbe?.httpGet, { path: '/readyz', port: 'http' });
});
