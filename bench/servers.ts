// The contenders: how to set each up, start it, wait until it answers correctly, and stop it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OTLP_ENDPOINT } from './discard-sink.ts';
import { isDeepStrictEqual } from 'node:util';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(BENCH_DIR, '..');
const VENV = join(BENCH_DIR, '.venv');
export const VENV_PYTHON = join(VENV, 'bin', 'python');
export const CORTEX_CLI = join(ROOT, 'cli', 'bin', 'cortex.ts');

/** The request every contender gets, and the answer every contender must give. */
export const PAYLOAD = { features: [5.1, 3.5, 1.4, 0.2] };
const [x0, x1, x2, x3] = PAYLOAD.features;
// Mirrors fixtures/trivial/predictor.py (weights 0.5, -0.25, 1.0, 2.0), same operation order.
export const EXPECTED = { score: 0.5 * x0 + -0.25 * x1 + 1.0 * x2 + 2.0 * x3 };
export const BODY = JSON.stringify(PAYLOAD);

export interface Contender {
  id: string;
  label: string;
  /** Returns why it cannot run, or undefined when it can. */
  unavailable(): string | undefined;
  command(port: number): { cmd: string; args: string[]; env?: Record<string, string> };
  /** URL paths to try, in order; the first that gives the expected answer is benchmarked. */
  paths: string[];
  /** How long to wait for the first correct answer. */
  startTimeoutMs: number;
  /** Whether `url` answers correctly: 'ok', else what is wrong (default: POST PAYLOAD, EXPECTED back). */
  check?: (url: string) => Promise<string>;
}

export const venvMissing = () => (existsSync(VENV_PYTHON) ? undefined : 'bench/.venv missing (setup failed?)');
const cliMissing = () => (existsSync(CORTEX_CLI) ? undefined : 'cli/bin/cortex.ts does not exist yet');
// `cortex serve` may answer on / or on the API's endpoint; try both.
const cortexPaths = (name: string) => ['/', `/${name}`, '/predict'];

/** uvicorn serving `app` (module:attribute in bench/), one worker, no access log. */
export const uvicornApp =
  (app: string, env: Record<string, string> = {}) =>
  (port: number) => ({
    cmd: VENV_PYTHON,
    args: [
      '-m',
      'uvicorn',
      app,
      '--app-dir',
      BENCH_DIR,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--workers',
      '1',
      '--no-access-log',
      '--log-level',
      'warning',
    ],
    env,
  });
const uvicorn = (handler: 'async' | 'sync') => uvicornApp('fastapi_app:app', { BENCH_HANDLER: handler });

/** The arguments (after node) of `cortex serve` on one API of a bench fixture, on loopback. */
export function cortexServeArgs(fixture: string, api: string, port: number): string[] {
  return [
    CORTEX_CLI,
    'serve',
    join(BENCH_DIR, 'fixtures', fixture),
    '--api',
    api,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
  ];
}

/**
 * `cortex serve` on one API of a bench fixture. Its stdout goes to a pipe the harness drains,
 * as a container runtime's or the local supervisor's does; the access log is on unless the
 * API sets `log_level: warning`.
 */
export function cortexServe(
  id: string,
  label: string,
  fixture: string,
  api: string,
  startTimeoutMs: number,
): Contender {
  return {
    id,
    label,
    unavailable: cliMissing,
    command: (port) => ({ cmd: process.execPath, args: cortexServeArgs(fixture, api, port) }),
    paths: cortexPaths(api),
    startTimeoutMs,
  };
}

/** `cortex serve` of a bench fixture's API with extra environment (tracing's OTEL_* variables). */
function withEnv(c: Contender, env: Record<string, string>): Contender {
  return { ...c, command: (port) => ({ ...c.command(port), env }) };
}

const TRACED = { OTEL_EXPORTER_OTLP_ENDPOINT: OTLP_ENDPOINT };

export const CONTENDERS: Contender[] = [
  cortexServe('runtime-python', '(a) cortex serve, Python predictor', 'trivial', 'trivial', 120_000),
  cortexServe('runtime-python-quiet', '(a2) cortex serve, Python, no access log', 'trivial', 'trivial-quiet', 120_000),
  {
    id: 'fastapi-async',
    label: '(b) FastAPI + uvicorn, async def',
    unavailable: venvMissing,
    command: uvicorn('async'),
    paths: ['/'],
    startTimeoutMs: 30_000,
  },
  {
    id: 'fastapi-sync',
    label: '(c) FastAPI + uvicorn, def (thread pool)',
    unavailable: venvMissing,
    command: uvicorn('sync'),
    paths: ['/'],
    startTimeoutMs: 30_000,
  },
  {
    id: 'bare-node',
    label: '(d) bare node:http (ceiling)',
    unavailable: () => undefined,
    command: (port) => ({ cmd: process.execPath, args: [join(BENCH_DIR, 'bare-node.ts'), String(port)] }),
    paths: ['/'],
    startTimeoutMs: 15_000,
  },
  cortexServe('runtime-ts', '(e) cortex serve, TypeScript predictor', 'trivial-ts', 'trivial-ts', 60_000),
  cortexServe(
    'runtime-ts-quiet',
    '(e2) cortex serve, TypeScript, no access log',
    'trivial-ts',
    'trivial-ts-quiet',
    60_000,
  ),
  // Opt-in (`npm run bench:observability`): the cost of tracing and payload logging, next to (a).
  withEnv(
    cortexServe('runtime-python-traced', '(f) cortex serve, Python, traced (OTLP)', 'trivial', 'trivial', 120_000),
    TRACED,
  ),
  cortexServe(
    'runtime-python-logged',
    '(g) cortex serve, Python, payload logging 100%',
    'trivial',
    'trivial-logged',
    120_000,
  ),
  withEnv(
    cortexServe(
      'runtime-python-observed',
      '(h) cortex serve, Python, traced + logged',
      'trivial',
      'trivial-logged',
      120_000,
    ),
    TRACED,
  ),
];

/** Contenders a plain `npm run bench` leaves out: they need bench:observability's sink. */
export const OPT_IN = new Set(['runtime-python-traced', 'runtime-python-logged', 'runtime-python-observed']);

/**
 * Creates bench/.venv with bench/requirements.txt unless it already holds exactly that
 * (a stamp file keeps the hash of the requirements it was built from).
 */
export function ensureVenv(log: (msg: string) => void): void {
  const requirements = join(BENCH_DIR, 'requirements.txt');
  const hash = createHash('sha256').update(readFileSync(requirements)).digest('hex');
  const stamp = join(VENV, '.bench-requirements.sha256');
  if (existsSync(VENV_PYTHON) && existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return;
  log('setting up bench/.venv (fastapi, uvicorn[standard]) ...');
  const step = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  };
  if (!existsSync(VENV_PYTHON)) step('python3', ['-m', 'venv', VENV]);
  step(VENV_PYTHON, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirements]);
  writeFileSync(stamp, hash);
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

export interface RunningServer {
  pid: number;
  url: string;
  stop(): Promise<void>;
}

/** What a server printed, to explain a failed start: its first error line, then its last lines. */
function explain(chunks: string[]): string {
  const lines = chunks
    .join('')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const error = lines.find((l) => /\w*Error\b/.test(l));
  return [error ?? '', ...lines.slice(-15)].join('\n');
}

/** Starts a contender and resolves once its check passes (by default: a POST of PAYLOAD returns EXPECTED). */
export async function startServer(c: Contender): Promise<RunningServer> {
  const port = await freePort();
  const { cmd, args, env } = c.command(port);
  // Own process group, so stop() reaches the server's workers too.
  const child: ChildProcess = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString('utf8'));
    if (output.length > 200) output.splice(0, output.length - 100);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((ok) =>
    child.once('exit', () => {
      exited = true;
      ok();
    }),
  );

  const stop = async () => {
    if (!exited) {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* gone */
      }
      const timer = new Promise<'timeout'>((ok) => setTimeout(ok, 5000, 'timeout'));
      if ((await Promise.race([exit, timer])) === 'timeout') {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
        await exit;
      }
    }
    // Whatever is left in the group (workers that outlived their parent).
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* none */
    }
  };

  const deadline = Date.now() + c.startTimeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (exited) {
      throw new Error(`exited with code ${child.exitCode ?? child.signalCode} before answering: ${explain(output)}`);
    }
    for (const path of c.paths) {
      const url = `http://127.0.0.1:${port}${path}`;
      const answer = await (c.check ?? check)(url);
      if (answer === 'ok') return { pid: child.pid!, url, stop };
      if (answer !== 'no connection') last = `${url}: ${answer}`;
    }
    await new Promise((ok) => setTimeout(ok, 200));
  }
  await stop();
  throw new Error(`no correct answer within ${c.startTimeoutMs / 1000}s (last: ${last})\n${explain(output)}`);
}

/** POSTs PAYLOAD once: 'ok' when the answer is EXPECTED, otherwise what went wrong. */
export async function check(url: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: BODY,
      signal: AbortSignal.timeout(5000),
    });
  } catch {
    return 'no connection';
  }
  const text = await res.text();
  if (res.status !== 200) return `HTTP ${res.status} ${text.slice(0, 200)}`;
  try {
    if (isDeepStrictEqual(JSON.parse(text), EXPECTED)) return 'ok';
  } catch {
    // not JSON
  }
  return `wrong answer ${text.slice(0, 200)} (expected ${JSON.stringify(EXPECTED)})`;
}
