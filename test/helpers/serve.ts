// Runs `cortex serve` as a user (or a container) would: a real child process on a free port.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cortexBin = path.join(repoRoot, 'cli', 'bin', 'cortex.ts');

export interface Served {
  proc: ChildProcess;
  port: number;
  url: string;
  /** Everything the process wrote to stdout so far (JSON log lines). */
  stdout(): string;
  stderr(): string;
  /** JSON log lines parsed. */
  logs(): Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Where this process was told to write its termination message. */
  terminationLog: string;
  stop(): Promise<void>;
}

/** What serve() rejects with when the process exits before it is ready. */
export interface ServeFailure extends Error {
  code: number | null;
  out: string;
  err: string;
  terminationLog: string;
}

export interface ServeOptions {
  args?: string[];
  env?: Record<string, string>;
  /** Resolve once the port is known instead of waiting for readiness. */
  waitForReady?: boolean;
  timeoutMs?: number;
}

/** A private cache dir per test run would reinstall venvs every time; share one per machine. */
let termDir: string | undefined;
let spawned = 0;

/** The environment of a served process: its own termination-log file in one folder per test process. */
export function testEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  if (termDir === undefined) {
    const dir = mkdtempSync(path.join(tmpdir(), 'cortex-term-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    termDir = dir;
  }
  return { ...process.env, CORTEX_TERMINATION_LOG: path.join(termDir, `termination-log-${++spawned}`), ...extra };
}

/** Expects serve() to fail and returns how. */
export async function serveFailure(target: string, options: ServeOptions = {}): Promise<ServeFailure> {
  try {
    const s = await serve(target, options);
    await s.stop();
  } catch (error) {
    return error as ServeFailure;
  }
  throw new Error(`cortex serve ${target} became ready but was expected to fail`);
}

export function serve(target: string, options: ServeOptions = {}): Promise<Served> {
  const env = testEnv(options.env);
  const terminationLog = env.CORTEX_TERMINATION_LOG!;
  const proc = spawn(
    process.execPath,
    [cortexBin, 'serve', target, '--port', '0', '--host', '127.0.0.1', ...(options.args ?? [])],
    {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const served = (port: number): Served => ({
    proc,
    port,
    url: `http://127.0.0.1:${port}`,
    stdout: () => out,
    stderr: () => err,
    logs: () => parseLogs(out),
    exited,
    terminationLog,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  });
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`cortex serve ${target} did not become ready in time\nstdout:\n${out}\nstderr:\n${err}`));
    }, options.timeoutMs ?? 120_000);
    const check = () => {
      const listening = /"serving .* on http:\/\/[^:]+:(\d+)/.exec(out);
      const ready = listening !== null && /"message":"[^"]+ is ready"/.test(out);
      const match = options.waitForReady === false || ready ? listening : null;
      if (match) {
        clearTimeout(deadline);
        proc.stdout!.off('data', check);
        proc.stderr!.off('data', check);
        resolve(served(Number(match[1])));
      }
    };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(deadline);
      reject(
        Object.assign(
          new Error(`cortex serve exited (${code ?? signal}) before it was ready\nstdout:\n${out}\nstderr:\n${err}`),
          { code, out, err, terminationLog },
        ),
      );
    });
  });
}

export function parseLogs(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export async function postJson(url: string, value: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(value),
  });
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
