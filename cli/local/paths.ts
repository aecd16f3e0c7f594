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
import { createHash } from 'node:crypto';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';

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

/** A unix socket path must fit in 108 bytes; a deep $CORTEX_HOME gets one in the temp folder. */
function socketPath(home: string): string {
  const inHome = path.join(home, 'supervisor.sock');
  if (Buffer.byteLength(inHome) <= 100) return inHome;
  return path.join(tmpdir(), `cortex-${createHash('sha256').update(home).digest('hex').slice(0, 12)}.sock`);
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
