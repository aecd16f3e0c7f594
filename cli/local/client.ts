// The CLI's side of the control socket: finds the supervisor, starts it when needed (detached,
// so it outlives the CLI), and asks it things.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, ExitCode } from '../errors.ts';
import { checkSocket, secureLayout, type Layout } from './paths.ts';
import type { RolloutEvent, SupervisorStatus } from './protocol.ts';
import { readState } from './state.ts';

export interface ControlResponse<T> {
  status: number;
  body: T;
}

const START_TIMEOUT_MS = 20_000;
const watchdogBin = path.join(path.dirname(fileURLToPath(import.meta.url)), 'watchdog.ts');

/** No supervisor answers (none runs, or the one there is stopping). */
function isConnectionError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return (
    code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ESTOPPING'
  );
}

const stoppingError = () => Object.assign(new Error('the supervisor is stopping'), { code: 'ESTOPPING' });

export class SupervisorClient {
  readonly layout: Layout;
  constructor(l: Layout) {
    this.layout = l;
  }

  request<T>(method: string, path: string, body?: unknown): Promise<ControlResponse<T>> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        { socketPath: this.layout.socket, method, path, headers: { 'content-type': 'application/json' } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            try {
              const body = JSON.parse(text) as T;
              if (res.statusCode === 503 && (body as { stopping?: boolean }).stopping) return reject(stoppingError());
              resolve({ status: res.statusCode ?? 0, body });
            } catch (error) {
              reject(error);
            }
          });
          res.on('error', reject);
        },
      );
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
      const req = http.request(
        { socketPath: this.layout.socket, method: 'POST', path, headers: { 'content-type': 'application/json' } },
        (res) => {
          let pending = '';
          res.setEncoding('utf8');
          if (res.statusCode !== 200) {
            let text = '';
            res.on('data', (c: string) => (text += c));
            res.on('end', () => {
              if (res.statusCode === 503 && text.includes('"stopping":true')) return reject(stoppingError());
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
          res.on('error', (error) => reject(lost(error)));
        },
      );
      // The supervisor went away (killed, crashed) while it answered: exit 4, never a stack.
      const lost = (error: Error) =>
        new CliError(
          `lost the connection to the local environment (${error.message}): its supervisor stopped; ` +
            `see ${this.layout.supervisorLog}`,
          ExitCode.Unavailable,
        );
      req.on('error', (error) => reject(lost(error)));
      req.end(JSON.stringify(body));
    });
  }
}

/** The running supervisor, or undefined. */
export async function findSupervisor(l: Layout): Promise<SupervisorClient | undefined> {
  if (!checkSocket(l.socket)) return undefined;
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
  secureLayout(l);
  const until = Date.now() + START_TIMEOUT_MS;
  let child: { exited?: number | null } | undefined;
  for (;;) {
    // (Again) when the last one found another supervisor in place: that one may be stopping.
    if (child === undefined || child.exited === 0) child = spawnSupervisor(l);
    const client = await findSupervisor(l);
    if (client) return client;
    if ((child.exited !== undefined && child.exited !== 0) || Date.now() > until) {
      const tail = readTail(l.supervisorLog, 5);
      throw new CliError(
        "could not start the local environment's supervisor" +
          (child.exited != null ? ` (it exited with code ${child.exited})` : '') +
          '; ' +
          `its log ${l.supervisorLog} ends with:\n${tail}`,
        ExitCode.Unavailable,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function spawnSupervisor(l: Layout): { exited?: number | null } {
  const state: { exited?: number | null } = {};
  const fd = openSync(l.supervisorLog, 'a');
  try {
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    // The watchdog, which runs the supervisor (both name their home on their command line).
    const child = spawn(process.execPath, [watchdogBin, '--home', l.home], {
      detached: true,
      stdio: ['ignore', fd, fd],
      cwd: l.home,
      env,
    });
    child.once('exit', (code) => (state.exited = code));
    child.once('error', () => (state.exited = -1));
    child.unref();
  } finally {
    closeSync(fd);
  }
  return state;
}

function readTail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(empty)';
  }
}
