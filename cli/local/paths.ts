// Where the local environment keeps its files: $CORTEX_HOME (default ~/.cortex).
//
//   cli.yaml            environments (the CLI's configuration)
//   state.json          the deployed APIs (written by the supervisor only)
//   supervisor.pid      the running supervisor's pid (a lock: one supervisor per home)
//   supervisor.sock     its control socket (HTTP over a unix socket)
//   supervisor.log      its own log (JSON lines)
//   snapshots/<id>/     the deployed copies of project folders
//   logs/<api>/<replica>.log      each replica's stdout and stderr
//   run/<replica>.termination     each replica's termination message
//   api-keys/<api>/<key name>     each API key's record: its SHA-256, never the key (keys.ts)
//
// $CORTEX_HOME is made 0700 and the socket 0600 whatever the umask: whoever can write to the
// socket runs code as this user. A home or socket owned by another user is refused.
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { CliError, ExitCode } from '../errors.ts';

export interface Layout {
  home: string;
  config: string;
  state: string;
  pidFile: string;
  socket: string;
  supervisorLog: string;
  snapshots: string;
  logs: string;
  run: string;
}

export function cortexHome(): string {
  const configured = process.env.CORTEX_HOME;
  return path.resolve(configured !== undefined && configured !== '' ? configured : path.join(homedir(), '.cortex'));
}

/**
 * A unix socket path must fit in 108 bytes; a deep $CORTEX_HOME gets one in a private folder of
 * the temp folder (cortex-<uid>, 0700), never in the shared temp folder itself.
 */
function socketPath(home: string): string {
  const inHome = path.join(home, 'supervisor.sock');
  if (Buffer.byteLength(inHome) <= 100) return inHome;
  const hash = createHash('sha256').update(home).digest('hex').slice(0, 12);
  return path.join(tmpdir(), `cortex-${process.getuid?.() ?? 'user'}`, `${hash}.sock`);
}

function unsafe(message: string): CliError {
  return new CliError(message, ExitCode.Unavailable);
}

/**
 * Creates `dir` (and missing parents) and makes it 0700, whatever the umask; refuses a folder
 * owned by another user (its owner could replace what runs, or the socket).
 */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = statSync(dir);
  if (!stat.isDirectory()) throw unsafe(`${dir} is not a folder`);
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw unsafe(`${dir} belongs to user ${stat.uid}, not to you (${uid}); refusing to use it: set CORTEX_HOME`);
  }
  if ((stat.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/** $CORTEX_HOME and the socket's folder, private to this user (see privateDir). */
export function secureLayout(l: Layout): void {
  privateDir(l.home);
  privateDir(path.dirname(l.socket));
}

/** Refuses a control socket that is not a socket owned by this user (false: there is none). */
export function checkSocket(socket: string): boolean {
  let stat;
  try {
    stat = lstatSync(socket);
  } catch {
    return false;
  }
  const uid = process.getuid?.();
  if (!stat.isSocket()) throw unsafe(`${socket} is not a socket; refusing to use it`);
  if (uid !== undefined && stat.uid !== uid) {
    throw unsafe(`${socket} belongs to user ${stat.uid}, not to you (${uid}); refusing to use it`);
  }
  return true;
}

/** Whether `child` lies strictly inside `parent` (no `..` escape; both resolved). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(path.resolve(parent), path.resolve(child));
  return rel !== '' && rel.split(path.sep)[0] !== '..' && !path.isAbsolute(rel);
}

export function layout(home = cortexHome()): Layout {
  return {
    home,
    config: path.join(home, 'cli.yaml'),
    state: path.join(home, 'state.json'),
    pidFile: path.join(home, 'supervisor.pid'),
    socket: socketPath(home),
    supervisorLog: path.join(home, 'supervisor.log'),
    snapshots: path.join(home, 'snapshots'),
    logs: path.join(home, 'logs'),
    run: path.join(home, 'run'),
  };
}
