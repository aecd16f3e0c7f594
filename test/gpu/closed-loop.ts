// A closed-loop load generator with no dependencies (the device machine has no wrk and reaches
// no registry): `connections` keep-alive clients, each sending its next request as soon as the
// last one is answered, for `durationS`. Requests/s and latency percentiles from every request.
import http from 'node:http';

export interface ClosedLoopResult {
  requests: number;
  requestsPerS: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers that were not 200, by status. */
  failures: Record<string, number>;
  /** One answer body, parsed, for checks on where the work ran. */
  sample: unknown;
}

export async function closedLoop(
  url: string,
  body: (i: number) => string,
  connections: number,
  durationS: number,
): Promise<ClosedLoopResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let sample: unknown;
  let sent = 0;
  const started = performance.now();
  const until = started + durationS * 1000;
  const one = (payload: string) =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = http.request(
        url,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            latencies.push(performance.now() - t0);
            if (res.statusCode === 200) sample ??= JSON.parse(Buffer.concat(chunks).toString());
            else failures[String(res.statusCode)] = (failures[String(res.statusCode)] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.on('error', (e) => {
        failures[e.message] = (failures[e.message] ?? 0) + 1;
        resolve();
      });
      req.end(payload);
    });
  const client = async () => {
    while (performance.now() < until) await one(body(sent++));
  };
  await Promise.all(Array.from({ length: connections }, client));
  const elapsedS = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    requests: latencies.length,
    requestsPerS: latencies.length / elapsedS,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    failures,
    sample,
  };
}
