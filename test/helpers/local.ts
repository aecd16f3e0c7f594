// Runs the `cortex` CLI as a user would, against a private local environment: a temporary
// $CORTEX_HOME and a free port. cleanup() ends every process it started (the supervisor and
// its replicas), even after a failed test, and removes the files.
import { execa } from 'execa';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cortexBin, repoRoot, waitFor } from './serve.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface LocalEnv {
  home: string;
  port: number;
  env: Record<string, string>;
  /** `cortex ARGS` in `cwd` (default: the repository). */
  cortex(
    args: string[],
    options?: { cwd?: string; input?: string; timeoutMs?: number; env?: Record<string, string> },
  ): Promise<CliResult>;
  url(endpoint: string): string;
  /** The supervisor's pid, if it runs. */
  supervisorPid(): number | undefined;
  cleanup(): Promise<void>;
}

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    if (port !== 8888) return port;
  }
}

export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Whether `pid` runs (a zombie, exited but not yet reaped by its new parent, does not). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc (macOS): trust kill(0)
  }
}

/** Processes whose command line mentions `text`. */
export async function processesMentioning(text: string): Promise<number[]> {
  const { stdout } = await execa('ps', ['-eo', 'pid=,args='], { reject: false });
  return String(stdout)
    .split('\n')
    .filter((l) => l.includes(text))
    .map((l) => Number(l.trim().split(/\s+/)[0]))
    .filter((pid) => pid !== process.pid);
}

export async function localEnv(): Promise<LocalEnv> {
  const home = mkdtempSync(path.join(tmpdir(), 'cortex-home-'));
  const port = await freePort();
  const env: Record<string, string> = {
    CORTEX_HOME: home,
    NO_COLOR: '1',
    // A missing package must fail fast, not wait on retries.
    PIP_RETRIES: '0',
    PIP_TIMEOUT: '10',
  };
  const supervisorPid = () => {
    try {
      return Number(readFileSync(path.join(home, 'supervisor.pid'), 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  };
  const local: LocalEnv = {
    home,
    port,
    env,
    async cortex(args, options = {}) {
      const childEnv: Record<string, string | undefined> = { ...process.env, ...env, ...options.env };
      delete childEnv.NODE_TEST_CONTEXT;
      const result = await execa(process.execPath, [cortexBin, ...args], {
        cwd: options.cwd ?? repoRoot,
        env: childEnv,
        extendEnv: false,
        reject: false,
        input: options.input,
        timeout: options.timeoutMs ?? 300_000,
      });
      return { code: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
    },
    url: (endpoint) => `http://127.0.0.1:${port}${endpoint}`,
    supervisorPid,
    async cleanup() {
      const pid = supervisorPid();
      if (pid !== undefined && alive(pid)) {
        process.kill(pid, 'SIGTERM');
        await waitFor('the supervisor to exit', () => (alive(pid) ? undefined : true), 45_000).catch(() =>
          process.kill(pid, 'SIGKILL'),
        );
      }
      // Anything left running from this home (replicas of a supervisor that was killed).
      for (const leftover of await processesMentioning(home)) {
        try {
          process.kill(leftover, 'SIGKILL');
        } catch {
          // gone
        }
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
  const configured = await local.cortex(['env', 'configure', 'local', '--port', String(port)]);
  if (configured.code !== 0) throw new Error(`cortex env configure failed: ${configured.stderr}`);
  return local;
}

/**
 * The CLI (a private $CORTEX_HOME, as localEnv) with environment `name` on `namespace` of the
 * cluster `kubeconfig` reaches, as a user configures it: `cortex env configure`.
 */
export async function clusterEnv(kubeconfig: string, namespace: string, name = 'test'): Promise<LocalEnv> {
  const cli = await localEnv();
  const configured = await cli.cortex(['env', 'configure', name, '--kubeconfig', kubeconfig, '--namespace', namespace]);
  if (configured.code !== 0) {
    await cli.cleanup();
    throw new Error(`cortex env configure ${name} exited ${configured.code}: ${configured.stderr}`);
  }
  return cli;
}

/** A private copy of a project folder (examples/NAME or test/fixtures/local/NAME), to edit. */
export function copyProject(from: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cortex-project-'));
  const source = path.isAbsolute(from) ? from : path.join(repoRoot, from);
  cpSync(source, dir, { recursive: true, filter: (src) => !src.includes('__pycache__') });
  if (!existsSync(path.join(dir, 'cortex.yaml')) && !existsSync(path.join(dir, 'predictor.py')))
    throw new Error(`nothing copied from ${source}`);
  return dir;
}

/** Requests in a loop from `concurrency` clients until stop(): what a rolling update must not disturb. */
export function loadGenerator(url: string, body: unknown, concurrency = 8) {
  let running = true;
  const results: { status: number; body: string; at: number }[] = [];
  const errors: string[] = [];
  const clients = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        const r = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        results.push({ status: r.status, body: await r.text(), at: Date.now() });
      } catch (error) {
        errors.push(String((error as Error).cause ?? error));
      }
    }
  });
  return {
    results,
    errors,
    async stop() {
      running = false;
      await Promise.all(clients);
      return { results, errors };
    },
  };
}
