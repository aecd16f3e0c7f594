// Small HTTP helpers for talking to replicas on 127.0.0.1 (no keep-alive: probes must not
// hold connections open on a replica that is about to drain).
import http from 'node:http';

export interface SimpleResponse {
  status: number;
  body: string;
}

export function httpGet(
  port: number,
  path: string,
  timeoutMs = 2000,
  headers: Record<string, string> = {},
): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
