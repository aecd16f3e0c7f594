// The load generator: wrk when available (installed with apt-get when we are root and it is
// missing), otherwise autocannon from devDependencies. Both send the same keep-alive POST with
// a JSON body from a fixed number of connections for a fixed time, and report requests/s and
// latency percentiles.
import { execFile, spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface LoadOptions {
  url: string;
  body: string;
  connections: number;
  durationS: number;
}

export interface LoadResult {
  /** Completed requests (any status). */
  requests: number;
  /** Seconds the load ran, as the generator measured it. */
  durationS: number;
  requestsPerS: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses that were not 2xx. */
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
}

export interface LoadGenerator {
  name: 'wrk' | 'autocannon';
  version: string;
  run(options: LoadOptions): Promise<LoadResult>;
}

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** wrk if on PATH (or installable with apt-get as root), else autocannon. */
export async function pickLoadGenerator(
  prefer?: string,
  log: (msg: string) => void = () => {},
): Promise<LoadGenerator> {
  if (prefer !== 'autocannon') {
    if (!onPath('wrk') && process.getuid?.() === 0 && onPath('apt-get')) {
      log('wrk not found; trying apt-get install -y wrk');
      spawnSync(
        'sh',
        [
          '-c',
          'apt-get install -y -qq wrk >/dev/null 2>&1 || ' +
            '(apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wrk >/dev/null 2>&1)',
        ],
        { stdio: 'ignore' },
      );
    }
    if (onPath('wrk')) return wrk();
    if (prefer === 'wrk') throw new Error('--load wrk: wrk is not on PATH and could not be installed');
    log('wrk unavailable; falling back to autocannon');
  }
  return autocannon();
}

// ---- wrk ----------------------------------------------------------------------------------

function wrk(): LoadGenerator {
  // `wrk -v` prints its banner and exits 1.
  const banner = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  const version = /wrk\s+(\S+)/.exec(`${banner.stdout}${banner.stderr}`)?.[1] ?? 'unknown';
  const scriptDir = mkdtempSync(join(tmpdir(), 'cortex-bench-'));
  return {
    name: 'wrk',
    version,
    async run({ url, body, connections, durationS }) {
      const script = join(scriptDir, 'post.lua');
      writeFileSync(
        script,
        `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\n`,
      );
      // One wrk thread: on 2 cores it leaves the other core to the server.
      const args = ['-t1', `-c${connections}`, `-d${durationS}s`, '--timeout', '10s', '--latency', '-s', script, url];
      const { stdout } = await run('wrk', args, { maxBuffer: 1 << 20 });
      return parseWrk(stdout);
    },
  };
}

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1000, m: 60_000 };

function wrkDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) throw new Error(`cannot parse wrk latency "${text}"`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

export function parseWrk(out: string): LoadResult {
  const field = (re: RegExp): string => {
    const m = re.exec(out);
    if (!m) throw new Error(`unexpected wrk output (no ${re}):\n${out}`);
    return m[1];
  };
  const done = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  if (!done) throw new Error(`unexpected wrk output:\n${out}`);
  const requests = Number(done[1]);
  const durationS = wrkDuration(`${done[2]}${done[3]}`) / 1000;
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests,
    durationS,
    requestsPerS: Number(field(/Requests\/sec:\s+([\d.]+)/)),
    p50Ms: wrkDuration(field(/\s50%\s+(\S+)/)),
    p99Ms: wrkDuration(field(/\s99%\s+(\S+)/)),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    errors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  };
}

// ---- autocannon ---------------------------------------------------------------------------

function autocannon(): LoadGenerator {
  const require = createRequire(import.meta.url);
  const bin = require.resolve('autocannon/autocannon.js');
  const version = (require('autocannon/package.json') as { version: string }).version;
  return {
    name: 'autocannon',
    version,
    async run({ url, body, connections, durationS }) {
      const args = [
        bin,
        '-c',
        String(connections),
        '-d',
        String(durationS),
        '-m',
        'POST',
        '-H',
        'content-type=application/json',
        '-b',
        body,
        '-t',
        '10',
        '--json',
        '-n',
        url,
      ];
      // Run through the same Node that runs the harness.
      const { stdout } = await run(process.execPath, args, { maxBuffer: 16 << 20 });
      const r = JSON.parse(stdout) as {
        requests: { total: number };
        duration: number;
        latency: { p50: number; p99: number };
        non2xx: number;
        errors: number;
        timeouts: number;
      };
      return {
        requests: r.requests.total,
        durationS: r.duration,
        requestsPerS: r.requests.total / r.duration,
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors + r.timeouts,
      };
    },
  };
}
