// AsyncAPI replicas against a real redis-server (issue 18): real `cortex serve` processes with real
// Python predictor processes take requests from the queue; the front (runtime/async/front.ts)
// queues them and answers their status. A replica killed mid-request (its predictor processes
// too) leaves the request to another replica, which completes it once; a predictor process that
// dies mid-request has its request tried again; results expire after async.result_ttl.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { serveAsync } from '../runtime/async/front.ts';
import { asyncNames } from '../runtime/async/records.ts';
import { openBroker } from '../runtime/queue/open.ts';
import type { Broker } from '../runtime/queue/types.ts';
import { redisMissing, startRedis, type RedisServer } from './helpers/redis-server.ts';
import { serve, type Served } from './helpers/serve.ts';
import { waitFor } from './helpers/wait.ts';

const PREDICTOR = `
import os, time

class PythonPredictor:
    def __init__(self, config):
        self.dir = config["dir"]

    def mark(self, what, n):
        open(os.path.join(self.dir, f"{what}-{n}-{os.getpid()}"), "w").close()

    def predict(self, payload):
        n = payload["n"]
        first = not any(f.startswith(f"start-{n}-") for f in os.listdir(self.dir))
        self.mark("start", n)
        time.sleep(payload.get("sleep", 0) + (payload.get("first_try_sleep", 0) if first else 0))
        if payload.get("die_once") and not os.path.exists(os.path.join(self.dir, f"died-{n}")):
            self.mark("died", n)
            os.rename(os.path.join(self.dir, f"died-{n}-{os.getpid()}"), os.path.join(self.dir, f"died-{n}"))
            os._exit(1)
        if payload.get("fail"):
            raise ValueError("asked to fail")
        self.mark("done", n)
        return {"n": n, "pid": os.getpid()}
`;

describe('AsyncAPI replicas on a real Redis', { skip: redisMissing }, () => {
  let redis: RedisServer;
  let broker: Broker;
  let front: http.Server;
  let url: string;
  const project = mkdtempSync(path.join(tmpdir(), 'cortex-async-'));
  const marks = path.join(project, 'marks');
  const replicas: Served[] = [];
  const names = asyncNames('local', 'slow-echo');

  before(async () => {
    redis = await startRedis();
    broker = openBroker(redis.url);
    writeFileSync(path.join(project, 'predictor.py'), PREDICTOR);
    rmSync(marks, { recursive: true, force: true });
    writeFileSync(
      path.join(project, 'cortex.yaml'),
      [
        '- name: slow-echo',
        '  kind: AsyncAPI',
        '  predictor:',
        '    type: python',
        '    path: predictor.py',
        '    processes_per_replica: 2',
        `    config: {dir: ${JSON.stringify(marks)}}`,
        '  async: {result_ttl: 6s, redeliver_after: 2s, max_deliveries: 3}',
      ].join('\n'),
    );
    mkdirSync(marks);
    front = http.createServer((req, res) => {
      const [pathname = '', query = ''] = (req.url ?? '').split('?');
      void serveAsync({ broker, names, resultTtlMs: 6000, maxBodyBytes: 1 << 20 }, req, res, pathname, query);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const r of replicas) await r.stop();
    front.close();
    await broker.close();
    await redis.close();
    rmSync(project, { recursive: true, force: true });
  });

  const startReplica = async () => {
    const r = await serve(project, { args: ['--queue', redis.url, '--grace-period', '1'] });
    replicas.push(r);
    return r;
  };
  const submit = async (payload: unknown): Promise<string> => {
    const res = await fetch(url, {
      method: 'POST',
      body: JSON.stringify(payload),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { id: string }).id;
  };
  const status = async (id: string) => {
    const res = await fetch(`${url}/${id}`);
    return { code: res.status, body: (await res.json()) as { status?: string; result?: unknown; error?: string } };
  };
  const completed = (id: string, timeoutMs = 60_000) =>
    waitFor(
      `request ${id} to finish`,
      async () => {
        const s = await status(id);
        return s.body.status === 'completed' || s.body.status === 'failed' ? s.body : undefined;
      },
      timeoutMs,
    );
  const marked = (what: string, n: number) => readdirSync(marks).filter((f) => f.startsWith(`${what}-${n}-`));

  test('a request is queued with an id, then in progress, then completed with its result', async () => {
    const id = await submit({ n: 1, sleep: 1 });
    assert.equal((await status(id)).body.status, 'in_queue', 'no replica yet');
    await startReplica();
    await waitFor('in_progress', async () => (await status(id)).body.status === 'in_progress');
    const done = await completed(id);
    assert.equal(done.status, 'completed');
    assert.equal((done.result as { n: number }).n, 1);
    assert.equal((await fetch(`${url}/no-such-id`)).status, 404);
  });

  test("a predictor's error marks the request failed, with the error", async () => {
    const done = await completed(await submit({ n: 2, fail: true }));
    assert.equal(done.status, 'failed');
    assert.match(done.error ?? '', /error|fail/i);
  });

  test('a predictor process that dies mid-request: the request is tried again and completes once', async () => {
    const id = await submit({ n: 3, die_once: true });
    const done = await completed(id);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(marked('start', 3).length, 2, 'two tries');
    assert.equal(marked('done', 3).length, 1, 'completed once');
  });

  test('a replica killed mid-request: another replica completes the request, once', async () => {
    const [first] = replicas;
    // the first try outlasts the second replica's start; the second try is quick
    const id = await submit({ n: 4, first_try_sleep: 30 });
    await waitFor('the first try to start', async () => marked('start', 4).length === 1);
    await startReplica();
    // the whole pod goes: its node process and its predictor processes
    const pid = Number(marked('start', 4)[0]!.split('-').at(-1));
    first!.proc.kill('SIGKILL');
    process.kill(pid, 'SIGKILL');
    const done = await completed(id);
    assert.equal(done.status, 'completed');
    assert.equal(marked('start', 4).length, 2, 'tried again after redeliver_after');
    assert.equal(marked('done', 4).length, 1, 'completed once');
    assert.deepEqual(await broker.depth(names.stream, names.group), { waiting: 0, pending: 0 });
  });

  test('results expire after async.result_ttl', async () => {
    const id = await submit({ n: 5 });
    assert.equal((await completed(id)).status, 'completed');
    await sleep(6500);
    const gone = await status(id);
    assert.equal(gone.code, 404);
    assert.match(gone.body.error ?? '', /expired/);
  });
});
