// The CLI's side of the control socket: finds the supervisor, starts it when needed (detached,
// so it outlives the CLI), and asks it things.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { CliError, ExitCode } from '../errors.ts';
import type { Layout } from './paths.ts';
import type { RolloutEvent, SupervisorStatus } from './protocol.ts';
import { cortexBin } from './replica.ts';
import { readState } from './state.ts';

export interface ControlResponse<T> {
  status: number;
  body: T;
}

const START_TIMEOUT_MS = 20_000;

function isConnectionError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE';
}

export class SupervisorClient {
  readonly layout: Layout;
  constructor(l: Layout) {
    this.layout = l;
  }

  request<T>(method: string, path: string, body?: unknown): Promise<ControlResponse<T>> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.layout.socket, method, path, headers: { 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as T });
          } catch (error) {
            reject(error);
          }
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  status(): Promise<SupervisorStatus> {
    return this.request<SupervisorStatus>('GET', '/status').then((r) => r.body);
  }

  /** POSTs and calls `onEvent` for each JSON line of the answer; resolves with the last. */
  stream(path: string, body: unknown, onEvent: (event: RolloutEvent) => void): Promise<RolloutEvent | undefined> {
    return new Promise((resolve, reject) => {
      let last: RolloutEvent | undefined;
      let gotAny = false;
      const req = http.request({ socketPath: this.layout.socket, method: 'POST', path, headers: { 'content-type': 'application/json' } }, (res) => {
        let pending = '';
        res.setEncoding('utf8');
        if (res.statusCode !== 200) {
          let text = '';
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            const message = (() => {
              try {
                return (JSON.parse(text) as { error?: string }).error ?? text;
              } catch {
                return text;
              }
            })();
            reject(new CliError(message, res.statusCode === 404 ? ExitCode.NotFound : ExitCode.Failed));
          });
          return;
        }
        res.on('data', (chunk: string) => {
          gotAny = true;
          pending += chunk;
          let nl: number;
          while ((nl = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, nl);
            pending = pending.slice(nl + 1);
            if (line.trim() === '') continue;
            last = JSON.parse(line) as RolloutEvent;
            onEvent(last);
          }
        });
        res.on('end', () => resolve(last));
        res.on('error', reject);
      });
      req.on('error', (error) => reject(gotAny ? new CliError(`lost the connection to the local environment: ${error.message}`, ExitCode.Unavailable) : error));
      req.end(JSON.stringify(body));
    });
  }
}

/** The running supervisor, or undefined. */
export async function findSupervisor(l: Layout): Promise<SupervisorClient | undefined> {
  const client = new SupervisorClient(l);
  try {
    await client.status();
    return client;
  } catch (error) {
    if (isConnectionError(error)) return undefined;
    throw error;
  }
}

/** Whether anything recorded in state.json should be running (then the supervisor is started). */
export function hasRunnableApis(l: Layout): boolean {
  return Object.values(readState(l).apis).some((a) => a.version !== undefined);
}

/** The running supervisor, started first when it is not running. */
export async function ensureSupervisor(l: Layout, onStart?: () => void): Promise<SupervisorClient> {
  const found = await findSupervisor(l);
  if (found) return found;
  onStart?.();
  mkdirSync(l.home, { recursive: true });
  const fd = openSync(l.supervisorLog, 'a');
  let exited: number | null | undefined;
  try {
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, [cortexBin, '__supervisor'], { detached: true, stdio: ['ignore', fd, fd], cwd: l.home, env });
    child.once('exit', (code) => (exited = code));
    child.unref();
  } finally {
    closeSync(fd);
  }
  const until = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const client = await findSupervisor(l);
    if (client) return client;
    if ((exited !== undefined && exited !== 0) || Date.now() > until) {
      const tail = readTail(l.supervisorLog, 5);
      throw new CliError(
        `could not start the local environment's supervisor${exited !== undefined ? ` (it exited with code ${exited})` : ''}; its log ${l.supervisorLog} ends with:\n${tail}`,
        ExitCode.Unavailable,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs `action` against the supervisor, starting it again once if it went away meanwhile. */
export async function withSupervisor<T>(l: Layout, action: (client: SupervisorClient) => Promise<T>, onStart?: () => void): Promise<T> {
  const client = await ensureSupervisor(l, onStart);
  try {
    return await action(client);
  } catch (error) {
    if (!isConnectionError(error)) throw error;
    return action(await ensureSupervisor(l, onStart));
  }
}

function readTail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(empty)';
  }
}
