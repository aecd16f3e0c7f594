// Fault injection against the local environment (issue 12, items 5-10), each test in its own
// $CORTEX_HOME on a free loopback port. Each prints its figures (docs/reliability.md).
//   npx node --test test/faults/local.test.ts
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { copyProject, localEnv, processesMentioning, type LocalEnv } from '../helpers/local.ts';
import { postJson, repoRoot, waitFor } from '../helpers/serve.ts';

const fixture = (name: string) => path.join(repoRoot, 'test', 'faults', 'fixtures', name);
const SECRET = 'S3cretPassw0rd';

interface ApiJson {
  status: string;
  reason?: string;
  replicas: { id: string; pid?: number; state: string }[];
}
const getApi = async (local: LocalEnv, name: string) =>
  JSON.parse((await local.cortex(['get', name, '-o', 'json'])).stdout) as ApiJson;

/**
 * A copy of fixtures/local-secret: API secret fails to start (a password in its error) while `flag`
 * exists; API ok starts (it keeps the gateway up).
 */
function secretProject(): { dir: string; flag: string } {
  const dir = copyProject(fixture('local-secret'));
  const flag = `${dir}.flag`;
  writeFileSync(
    path.join(dir, 'cortex.yaml'),
    `- name: secret\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n` +
      `    config:\n      flag_file: ${flag}\n` +
      `- name: ok\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: ok.py\n`,
  );
  return { dir, flag };
}

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

  test(
    'item 10: an API whose first deploy failed answers 503 at once with a reason that holds no secret',
    { timeout: 90_000 },
    () =>
      withLocal(async (local) => {
        const { dir, flag } = secretProject();
        try {
          writeFileSync(flag, '');
          const first = await local.cortex(['deploy', dir]);
          assert.equal(first.code, 1, first.stderr);
          const started = Date.now();
          const never = await postJson(local.url('/secret'), {});
          const neverText = await never.text();
          figure(`failed first deploy: ${never.status} in ${Date.now() - started} ms: ${neverText}`);
          assert.equal(never.status, 503, neverText);
          assert.match(neverText, /secret has no ready replica: its first version failed to start/);
          assert.doesNotMatch(neverText, new RegExp(SECRET));
          assert.match((await getApi(local, 'secret')).reason ?? '', new RegExp(SECRET), 'details stay in cortex get');
        } finally {
          rmSync(dir, { recursive: true, force: true });
          rmSync(flag, { force: true });
        }
      }),
  );

  test(
    'item 9: a replica failing its restarts with a password in its error: clients get a generic 503, ' +
      'cortex get keeps the details',
    { timeout: 90_000 },
    () =>
      withLocal(async (local) => {
        const { dir, flag } = secretProject();
        try {
          const deployed = await local.cortex(['deploy', dir]);
          assert.equal(deployed.code, 0, deployed.stderr);
          writeFileSync(flag, '');
          process.kill((await getApi(local, 'secret')).replicas[0].pid!, 'SIGKILL');
          await waitFor(
            'secret to fail its restarts',
            async () => {
              const api = await getApi(local, 'secret');
              return api.status === 'error' && (api.reason ?? '').includes(SECRET) ? api : undefined;
            },
            30_000,
          );
          const started = Date.now();
          const down = await postJson(local.url('/secret'), {});
          const downText = await down.text();
          figure(`failing restarts: ${down.status} after ${Date.now() - started} ms: ${downText}`);
          assert.equal(down.status, 503, downText);
          assert.doesNotMatch(downText, new RegExp(SECRET));
          assert.match(downText, /the API failed to start; see cortex logs secret \/ cortex get secret/);
        } finally {
          rmSync(dir, { recursive: true, force: true });
          rmSync(flag, { force: true });
        }
      }),
  );

  test(
    'item 6: kill -9 of one of two replicas with 1 s requests in flight: no request runs twice; ' +
      'those the dead replica held get 502',
    { timeout: 120_000 },
    () =>
      withLocal(async (local) => {
        const dir = copyProject(fixture('local-slow'));
        const runs = mkdtempSync(path.join(tmpdir(), 'cortex-runs-'));
        try {
          writeFileSync(
            path.join(dir, 'cortex.yaml'),
            `- name: slow\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n` +
              `    config:\n      runs_dir: ${runs}\n  autoscaling:\n    min_replicas: 2\n`,
          );
          const r = await local.cortex(['deploy', dir]);
          assert.equal(r.code, 0, r.stderr);
          const victim = (await getApi(local, 'slow')).replicas[0].pid!;
          const n = 8;
          const answers = Promise.all(
            Array.from({ length: n }, async (_, id) => {
              const answer = await postJson(local.url('/slow'), { id, sleep: 1 });
              return { id, status: answer.status, body: await answer.text() };
            }),
          );
          await new Promise((r) => setTimeout(r, 300));
          process.kill(victim, 'SIGKILL'); // the replica's `cortex serve`: its Python worker finishes orphaned
          const results = await answers;
          await new Promise((r) => setTimeout(r, 2000)); // orphaned workers finish what they held
          const counts = new Map<string, number>();
          for (const file of readdirSync(runs)) {
            const id = file.split('.')[0];
            counts.set(id, (counts.get(id) ?? 0) + 1);
          }
          const twice = [...counts].filter(([, c]) => c > 1).map(([id]) => id);
          const failed = results.filter((x) => x.status !== 200);
          figure(
            `replica kill -9 with ${n} requests of 1 s in flight: ${n - failed.length} × 200, ` +
              `${failed.length} × ${[...new Set(failed.map((x) => x.status))].join('/') || '-'}, ` +
              `${twice.length} ran twice`,
          );
          assert.deepEqual(twice, [], 'requests that ran twice');
          assert.ok(failed.length > 0, 'the killed replica held some of the requests');
          for (const f of failed) assert.equal(f.status, 502, f.body);
          for (const ok of results.filter((x) => x.status === 200)) assert.equal(counts.get(String(ok.id)), 1);
        } finally {
          rmSync(dir, { recursive: true, force: true });
          rmSync(runs, { recursive: true, force: true });
        }
      }),
  );

  test(
    'item 8: malformed control requests get 400 and leave nothing behind; a corrupt state.json is replaced by ' +
      'the last good copy, and get says so',
    { timeout: 120_000 },
    () =>
      withLocal(async (local) => {
        const project = copyProject('test/fixtures/local/whoami');
        try {
          const r = await local.cortex(['deploy', project]);
          assert.equal(r.code, 0, r.stderr);
          const socket = path.join(local.home, 'supervisor.sock');
          const supervisor = local.supervisorPid()!;
          const state = JSON.parse(readFileSync(path.join(local.home, 'state.json'), 'utf8')) as {
            apis: Record<string, { version: { spec: unknown } }>;
          };
          const bad: [string, unknown][] = [
            ['/deploy', { name: 'bad', hash: 'f'.repeat(64), snapshot: 123, spec: state.apis.whoami.version.spec }],
            ['/deploy', '{"name": "bad", '],
            ['/deploy', { name: 'Bad Name!', spec: {} }],
            ['/delete', {}],
            ['/refresh', { name: ['whoami'] }],
          ];
          const statuses: number[] = [];
          for (const [route, body] of bad) {
            const answer = await control(socket, 'POST', route, body);
            statuses.push(answer.status);
            assert.equal(answer.status, 400, `${route} ${JSON.stringify(body)}: ${answer.text}`);
          }
          await new Promise((r) => setTimeout(r, 1500));
          assert.equal(local.supervisorPid(), supervisor);
          process.kill(supervisor, 0); // still running
          assert.equal((await postJson(local.url('/whoami'), {})).status, 200);
          figure(`${bad.length} malformed control requests: ${statuses.join(', ')}; the supervisor kept running`);

          // state.json corrupted while no supervisor runs: the next command restores the last good copy.
          process.kill(supervisor, 'SIGKILL');
          writeFileSync(path.join(local.home, 'state.json'), '{"apis": {"whoami": {"na');
          const get = await local.cortex(['get', 'whoami']);
          figure(`corrupt state.json: cortex get exit ${get.code}; stderr: ${get.stderr.trim().split('\n')[0]}`);
          assert.equal(get.code, 0, get.stderr);
          assert.match(
            get.stderr,
            /state.json could not be read .* the last good copy .* was restored, with APIs: whoami/,
          );
          assert.ok(readdirSync(local.home).some((f) => f.startsWith('state.json.corrupt-')));
        } finally {
          rmSync(project, { recursive: true, force: true });
        }
      }),
  );

  test(
    'item 5: kill -9 of the supervisor under load: the gateway is back by itself in a second or two',
    { timeout: 120_000 },
    () =>
      withLocal(async (local) => {
        const project = copyProject('test/fixtures/local/whoami');
        try {
          const r = await local.cortex(['deploy', project]);
          assert.equal(r.code, 0, r.stderr);
          const supervisor = local.supervisorPid()!;
          const replicas = (await getApi(local, 'whoami')).replicas.map((r) => r.pid).sort();
          let refused = 0;
          let running = true;
          const statuses = new Map<number, number>();
          let first200: number | undefined;
          let killed = Infinity;
          const clients = Array.from({ length: 4 }, async () => {
            while (running) {
              const sent = Date.now();
              try {
                const answer = await postJson(local.url('/whoami'), {});
                await answer.arrayBuffer();
                statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
                if (answer.status === 200 && first200 === undefined && sent > killed) first200 = Date.now();
              } catch {
                refused++;
                await new Promise((r) => setTimeout(r, 5));
              }
            }
          });
          await new Promise((r) => setTimeout(r, 300));
          killed = Date.now();
          process.kill(supervisor, 'SIGKILL');
          // The gateway's port: how long until it accepts connections again.
          let back: number | undefined;
          while (back === undefined && Date.now() - killed < 10_000) {
            const ok = await new Promise<boolean>((resolve) => {
              const socket = net.connect(local.port, '127.0.0.1');
              socket.once('connect', () => (socket.destroy(), resolve(true)));
              socket.once('error', () => resolve(false));
            });
            if (ok && Date.now() - killed > 50 && local.supervisorPid() !== supervisor) back = Date.now();
            else await new Promise((r) => setTimeout(r, 20));
          }
          await waitFor('an answer after the kill', () => first200, 30_000);
          running = false;
          await Promise.all(clients);
          figure(
            `supervisor kill -9: gateway back in ${back === undefined ? 'never' : back - killed} ms, ` +
              `${refused} refused connections, first 200 after ${first200! - killed} ms; ` +
              `answers ${[...statuses].map(([s, n]) => `${n} × ${s}`).join(', ')}`,
          );
          const after = await getApi(local, 'whoami');
          const kept = after.replicas.filter((r) => replicas.includes(r.pid)).length;
          figure(`replicas taken over by the new supervisor (not restarted): ${kept} of ${replicas.length}`);
          assert.ok(back !== undefined && back - killed < 3000, 'the gateway came back by itself within 3 s');
          assert.notEqual(local.supervisorPid(), supervisor);
          assert.equal(after.status, 'live');
          assert.deepEqual(after.replicas.map((r) => r.pid).sort(), replicas, 'the healthy replicas kept running');
          // Taken over for good: a crash of one is noticed and it is restarted.
          process.kill(replicas[0]!, 'SIGKILL');
          const restarted = await waitFor(
            'the killed replica to be restarted',
            async () => {
              const api = await getApi(local, 'whoami');
              return api.status === 'live' && !api.replicas.some((r) => r.pid === replicas[0]) ? api : undefined;
            },
            30_000,
          );
          assert.ok(restarted.replicas.some((r) => r.pid === replicas[1]));
        } finally {
          rmSync(project, { recursive: true, force: true });
        }
      }),
  );

  test(
    'item 5: kill -9 of the supervisor during cortex deploy: exit 4 with one line, no stack; the snapshot is removed',
    { timeout: 120_000 },
    () =>
      withLocal(async (local) => {
        const dir = copyProject(fixture('local-slow'));
        const runs = mkdtempSync(path.join(tmpdir(), 'cortex-runs-'));
        try {
          writeFileSync(
            path.join(dir, 'cortex.yaml'),
            `- name: slow\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n` +
              `    config:\n      runs_dir: ${runs}\n      init_sleep: 5\n`,
          );
          const deploying = local.cortex(['deploy', dir]);
          const snapshots = path.join(local.home, 'snapshots');
          await waitFor(
            'a replica of the deploy to start',
            async () => (await processesMentioning(snapshots + path.sep)).length > 0 || undefined,
            30_000,
          );
          process.kill(local.supervisorPid()!, 'SIGKILL');
          const r = await deploying;
          figure(`supervisor kill -9 during deploy: exit ${r.code}: ${r.stderr.trim().split('\n').at(-1)}`);
          assert.equal(r.code, 4, r.stderr);
          assert.match(r.stderr, /lost the connection to the local environment/);
          assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
          assert.deepEqual(readdirSync(snapshots), [], 'the aborted snapshot was removed');
        } finally {
          rmSync(dir, { recursive: true, force: true });
          rmSync(runs, { recursive: true, force: true });
        }
      }),
  );
});
