// A gRPC API's fronts in a replica (runtime/replica.ts): the gRPC server on the replica's port and
// the admin HTTP server (/healthz, /readyz, /metrics) on the admin port, started before the
// workers (so the probes answer while predictors initialise), drained together.

import path from 'node:path';
import type { GrpcWorkerOptions } from '../workers/types.ts';
import { cacheRoot } from '../deps.ts';
import { adminServer, listenHttp } from './admin.ts';
import { GrpcFront, type GrpcFrontOptions } from './front.ts';
import { inspectProto, type ProtoService } from './proto.ts';

/** The .proto (inspectProto: throws ProtoError) and what the Python worker needs to compile it. */
export function grpcWorkerOptions(
  projectDir: string,
  protobufPath: string,
): { service: ProtoService; worker: GrpcWorkerOptions } {
  const service = inspectProto(projectDir, protobufPath);
  return {
    service,
    worker: {
      proto: path.normalize(protobufPath),
      files: service.files,
      service: service.fullName,
      cacheDir: path.join(cacheRoot(), 'protos'),
    },
  };
}

/** The front's options, plus where to listen and what the health service and /readyz report. */
export interface GrpcServingOptions extends GrpcFrontOptions {
  host: string;
  port: number;
  adminPort: number;
  notReady(): string | undefined;
  workerSummary(): { size: number; ready: number };
}

export interface GrpcServing {
  port: number;
  adminPort: number;
  /** The workers are (or are no longer) ready: the health service follows. */
  setServing(serving: boolean): void;
  drain(graceMs: number): Promise<boolean>;
}

export async function startGrpcServing(o: GrpcServingOptions): Promise<GrpcServing> {
  const front = new GrpcFront(o);
  const port = await front.listen(o.port, o.host);
  let draining = false;
  const notReady = () => (draining ? 'shutting down' : o.notReady());
  const admin = adminServer({ ...o, service: o.service.fullName, grpcPort: () => port, notReady });
  const adminPort = await listenHttp(admin, o.adminPort, o.host);
  // the local environment reads the admin port from "serving ... on http://host:port" (its /readyz)
  o.logger.info(
    `serving ${o.api} over gRPC (HTTP/2 without TLS) at ${o.host}:${port}, service ${o.service.fullName}; ` +
      `admin (/healthz, /readyz, /metrics) on http://${o.host}:${adminPort}`,
    { grpcPort: port, adminPort },
  );
  return {
    port,
    adminPort,
    setServing: (serving) => front.setServing(serving),
    drain: async (graceMs) => {
      draining = true;
      const finished = await front.drain(graceMs);
      admin.close();
      admin.closeAllConnections();
      return finished;
    },
  };
}
