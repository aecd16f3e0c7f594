// The HTTP side of a gRPC API's replica, on the admin port (cortex serve --admin-port, 15000 as for
// pod APIs' cortex proxy): GET /healthz (alive), /readyz (200 once every worker is ready, 503 while
// starting or draining), /metrics (Prometheus) and / (the summary). The replica's port speaks
// gRPC only, where the standard health service answers the same readiness.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RuntimeMetrics } from '../metrics.ts';

export interface AdminOptions {
  api: string;
  service: string;
  grpcPort: () => number;
  metrics: RuntimeMetrics;
  /** Why the replica cannot take calls now (undefined: it can). */
  notReady(): string | undefined;
  workerSummary(): { size: number; ready: number };
}

export function adminServer(options: AdminOptions): http.Server {
  const json = (res: http.ServerResponse, status: number, value: unknown) => {
    const body = JSON.stringify(value);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return json(res, 405, { error: `method ${req.method} not allowed: this is the admin port of a gRPC API` });
    }
    switch (path) {
      case '/healthz':
        return json(res, 200, { status: 'alive' });
      case '/readyz': {
        const reason = options.notReady();
        return reason === undefined
          ? json(res, 200, { status: 'ready', workers: options.workerSummary().size })
          : json(res, 503, { status: 'not ready', reason });
      }
      case '/metrics':
        options.metrics.render().then(
          (text) => {
            res.writeHead(200, { 'Content-Type': options.metrics.contentType() });
            res.end(text);
          },
          (error: unknown) => json(res, 500, { error: `metrics: ${String(error)}` }),
        );
        return;
      case '/': {
        const { size, ready } = options.workerSummary();
        return json(res, 200, {
          api: options.api,
          grpc: { service: options.service, port: options.grpcPort() },
          ready: options.notReady() === undefined,
          workers: { ready, total: size },
          usage: `call ${options.service} over gRPC (HTTP/2 without TLS) on port ${options.grpcPort()}`,
        });
      }
    }
    json(res, 404, { error: `no route ${req.method} ${path} (the admin port serves /healthz, /readyz, /metrics)` });
  });
}

export function listenHttp(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
