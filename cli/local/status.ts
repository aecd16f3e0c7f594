// What `cortex get` shows, collected (printing is in cli/commands/get.ts): the supervisor's
// status plus each API's request metrics. When no supervisor runs and nothing should run,
// the APIs recorded in state.json (failed creations) are shown without starting one.
import { ensureSupervisor, findSupervisor, hasRunnableApis } from './client.ts';
import { apiMetrics, type RequestMetrics } from './metrics.ts';
import type { Layout } from './paths.ts';
import type { ApiStatus, SupervisorStatus } from './protocol.ts';
import { readState } from './state.ts';

export interface ApiView extends ApiStatus {
  /** What clients call. */
  url: string;
  metrics: RequestMetrics;
}

export async function supervisorStatus(l: Layout): Promise<SupervisorStatus | undefined> {
  const running = await findSupervisor(l);
  if (running) return running.status();
  if (hasRunnableApis(l)) return (await ensureSupervisor(l)).status();
  return undefined;
}

/** APIs in state.json when no supervisor runs (none of them has replicas). */
function fromState(l: Layout): ApiStatus[] {
  return Object.values(readState(l).apis).map((record) => ({
    name: record.name,
    endpoint: record.version?.spec.networking.endpoint ?? `/${record.name}`,
    status: 'error' as const,
    reason: record.failure?.reason ?? 'not running',
    requested: Math.max(1, record.version?.spec.autoscaling.initReplicas ?? 1),
    ready: 0,
    upToDate: 0,
    restarts: 0,
    createdAt: record.createdAt,
    replicas: [],
  }));
}

/**
 * A gRPC API's address: its serving replicas' gRPC ports (the local gateway does not carry gRPC:
 * docs/grpc.md#locally); undefined for an HTTP API.
 */
function grpcAddress(api: ApiStatus): string | undefined {
  const ports = api.replicas.filter((r) => r.role === 'current' && r.grpcPort !== undefined).map((r) => r.grpcPort);
  return ports.length > 0 ? `grpc://127.0.0.1:${ports.join(',')}` : undefined;
}

export async function collectApis(l: Layout, baseUrl: string): Promise<ApiView[]> {
  const status = await supervisorStatus(l);
  const apis = status?.apis ?? fromState(l);
  return Promise.all(
    apis.map(async (api) => ({
      ...api,
      url: grpcAddress(api) ?? baseUrl + (api.endpoint === '/' ? '/' : api.endpoint),
      metrics: await apiMetrics(api),
    })),
  );
}
