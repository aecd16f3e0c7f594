// Fault injection against the local environment (issue 12, items 5-10), each test in its own
// $CORTEX_HOME on a free loopback port. Each prints its figures (docs/reliability.md).
//   npx node --test test/faults/local.test.ts
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { copyProject, localEnv, type LocalEnv } from '../helpers/local.ts';

/** One request over the control socket, as any local process could send it. */
function control(
  socket: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path: route }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  });
}

async function withLocal(run: (local: LocalEnv) => Promise<void>): Promise<void> {
  const local = await localEnv();
  try {
    await run(local);
  } finally {
    await local.cleanup();
  }
}

function figure(line: string): void {
  process.stdout.write(`# ${line}\n`);
}

describe('local environment: faults and hostile input', { concurrency: false }, () => {
  test(
    'item 7: with umask 000 the home is 0700 and the socket 0600; a deploy naming a folder outside the home is ' +
      'refused and that folder survives',
    { timeout: 90_000 },
    () =>
      withLocal(async (local) => {
        const project = copyProject('test/fixtures/local/whoami');
        const victim = mkdtempSync(path.join(tmpdir(), 'cortex-victim-'));
        const old = process.umask(0);
        try {
          chmodSync(local.home, 0o777); // as a umask of 000 would have made it
          const r = await local.cortex(['deploy', project]);
          assert.equal(r.code, 0, r.stderr);
          const socket = path.join(local.home, 'supervisor.sock');
          const homeMode = statSync(local.home).mode & 0o777;
          const socketMode = statSync(socket).mode & 0o777;
          figure(`umask 000: home ${homeMode.toString(8)}, socket ${socketMode.toString(8)}`);
          assert.equal(homeMode, 0o700);
          assert.equal(socketMode, 0o600);
          const state = JSON.parse(readFileSync(path.join(local.home, 'state.json'), 'utf8')) as {
            apis: Record<string, { version: { spec: unknown } }>;
          };
          const answer = await control(socket, 'POST', '/deploy', {
            name: 'evil',
            hash: 'f'.repeat(64),
            snapshot: victim,
            configFile: path.join(victim, 'cortex.yaml'),
            spec: state.apis.whoami.version.spec,
            env: {},
            source: victim,
          });
          figure(`deploy request naming ${victim}: ${answer.status} ${answer.text.trim()}`);
          assert.equal(answer.status, 400, answer.text);
          await new Promise((r) => setTimeout(r, 1500));
          assert.ok(existsSync(victim), 'the folder outside $CORTEX_HOME was deleted');
          const deleted = await local.cortex(['delete', 'whoami', '-y']);
          assert.equal(deleted.code, 0, deleted.stderr);
          assert.ok(existsSync(victim), 'the folder outside $CORTEX_HOME was deleted');
        } finally {
          process.umask(old);
          rmSync(project, { recursive: true, force: true });
          rmSync(victim, { recursive: true, force: true });
        }
      }),
  );
});
