// Starts one server of the peer bench, waits for its first correct answer, and stops it with
// everything it started. Ray's actors run in process groups of their own, so stopping the
// group is not enough: whatever of the tree outlives the group is killed by pid.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { sampleTree } from '../cpu.ts';
import { freePort, ROOT } from '../servers.ts';
import { wrongAnswer, type Answer } from './answers.ts';
import type { Server } from './registry.ts';

export interface Running {
  pid: number;
  url: string;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

/** Whether `key` ("pid:start", as sampleTree keys them) is still that same process. */
function alive(key: string): boolean {
  const [pid, start] = key.split(':');
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[19] === start;
  } catch {
    return false;
  }
}

/** POSTs the body once: undefined when the answer is right, otherwise what went wrong. */
export async function checkAnswer(server: Server, url: string, body: string, expected: Answer): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(10_000),
    });
  } catch {
    return 'no connection';
  }
  const text = await res.text();
  if (res.status !== 200) return `HTTP ${res.status} ${text.slice(0, 300)}`;
  return wrongAnswer(server.response, text, expected) ?? 'ok';
}

export async function launch(server: Server, python: string, body: string, expected: Answer): Promise<Running> {
  const ports: number[] = [];
  while (ports.length < server.ports) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const { cmd, args, env } = server.command(python, ports);
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString('utf8'));
    if (output.length > 400) output.splice(0, 200);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((ok) => child.once('exit', () => ok(void (exited = true))));
  const pid = child.pid!;

  const stop = async () => {
    const tree = [...sampleTree(pid).keys()];
    kill(-pid, 'SIGTERM');
    await Promise.race([exit, sleep(10_000)]);
    kill(-pid, 'SIGKILL');
    for (const key of tree) if (alive(key)) kill(Number(key.split(':')[0]), 'SIGKILL');
  };

  const url = `http://127.0.0.1:${ports[0]}${server.path}`;
  const deadline = Date.now() + server.startTimeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline && !exited) {
    const answer = await checkAnswer(server, url, body, expected);
    if (answer === 'ok') return { pid, url, stop };
    if (answer !== 'no connection') last = answer;
    await sleep(500);
  }
  await stop();
  const lines = output
    .join('')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const error = lines.find((l) => /\w*(Error|Exception)\b/.test(l)) ?? '';
  const why = exited ? `exited (${child.exitCode ?? child.signalCode}) before answering` : 'no correct answer in time';
  throw new Error(`${why}; last: ${last}\n${[error, ...lines.slice(-12)].join('\n')}`);
}
