// networking.auth: api_key in the runtime's front, as a replica runs it: a real `cortex serve`
// process with --api-keys pointing at a folder laid out like a mounted keys Secret, a real
// TypeScript predictor that counts the requests it saw, and every line the process wrote.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { newKey } from '../operator/auth/keys.ts';
import { serve, type Served } from './helpers/serve.ts';

const project = mkdtempSync(path.join(tmpdir(), 'cortex-serve-auth-'));
const keysDir = path.join(project, 'keys');
mkdirSync(keysDir);
writeFileSync(
  path.join(project, 'cortex.yaml'),
  '- name: counter\n  kind: RealtimeAPI\n  predictor: {type: typescript, path: predictor.ts}\n' +
    '  networking: {auth: api_key}\n',
);
// how many predictions ran, and whether one of them saw an Authorization header
writeFileSync(
  path.join(project, 'predictor.ts'),
  'let n = 0;\nexport default class Counter {\n' +
    '  predict(_payload: unknown, { headers }: { headers: Record<string, string> }) {\n' +
    "    return { n: ++n, sawAuthorization: 'authorization' in headers,\n" +
    "      sawContentType: 'content-type' in headers };\n" +
    '  }\n}\n',
);
const issued: string[] = [];
function writeKey(id: string, limits = {}): string {
  const { key, record } = newKey(id, limits);
  writeFileSync(path.join(keysDir, `.${id}.tmp`), JSON.stringify(record));
  writeFileSync(path.join(keysDir, id), JSON.stringify(record));
  rmSync(path.join(keysDir, `.${id}.tmp`));
  issued.push(key);
  return key;
}

let s: Served;
before(async () => {
  s = await serve(project, { args: ['--api-keys', keysDir] });
});
after(async () => {
  await s?.stop();
  rmSync(project, { recursive: true, force: true });
});

const predict = async (key?: string) => {
  const res = await fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: '{}',
  });
  type Answer = { n?: number; sawAuthorization?: boolean; sawContentType?: boolean; error?: string };
  return { res, body: (await res.json()) as Answer };
};
const until = async (what: string, check: () => Promise<boolean>, ms: number) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

test('no key yet: every prediction is 401, health and metrics stay open; nothing reached the predictor', async () => {
  const { res, body } = await predict();
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="cortex"');
  assert.match(body.error!, /Authorization: Bearer <key>/);
  assert.equal((await predict('ctx_nobody_' + 'A'.repeat(43))).res.status, 401);
  assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  assert.equal((await fetch(`${s.url}/readyz`)).status, 200);
  assert.equal((await fetch(`${s.url}/metrics`)).status, 200);
  const key = writeKey('first');
  await until('a key written to the folder is accepted', async () => (await predict(key)).res.status === 200, 3000);
  // the first prediction that ran is the one just answered: none of the refused ones ran
  const { body: next } = await predict(key);
  assert.equal(next.n, 2);
  assert.equal(next.sawAuthorization, false, 'the predictor does not see the key');
  assert.equal(next.sawContentType, true, 'it sees the other headers');
});

test('revoke (file removed) takes effect within two seconds; a rotated key keeps working', async () => {
  const old = writeKey('old');
  const rotated = writeKey('rotated');
  await until('both keys work', async () => (await predict(old)).res.status === 200, 3000);
  assert.equal((await predict(rotated)).res.status, 200);
  rmSync(path.join(keysDir, 'old'));
  const at = Date.now();
  await until('the revoked key is refused', async () => (await predict(old)).res.status === 401, 2000);
  assert.ok(Date.now() - at <= 2000);
  assert.equal((await predict(rotated)).res.status, 200);
});

test('a per-key limit under load: answered ≤ burst + rate × time, the rest 429 with Retry-After', async () => {
  const key = writeKey('limited', { requestsPerSecond: 10, burst: 5 });
  await until('the key is loaded', async () => (await predict(key)).res.status !== 401, 3000);
  await new Promise((r) => setTimeout(r, 600)); // the bucket refills to its size
  const started = Date.now();
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      for (let i = 0; i < 30; i++) {
        const { res } = await predict(key);
        statuses.push(res.status);
        if (res.status === 429) retryAfter = res.headers.get('retry-after');
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  const answered = statuses.filter((x) => x === 200).length;
  const limited = statuses.filter((x) => x === 429).length;
  assert.equal(answered + limited, 180);
  assert.ok(answered >= 5 && answered <= Math.ceil(5 + 10 * seconds) + 1, `${answered} in ${seconds} s`);
  assert.ok(limited > 0);
  assert.equal(retryAfter, '1');
});

test('access log lines and metrics carry key names, never a key', async () => {
  const metrics = await (await fetch(`${s.url}/metrics`)).text();
  await new Promise((r) => setTimeout(r, 100)); // the log's last buffered lines
  const everything = s.stdout() + s.stderr() + metrics;
  for (const key of issued) assert.ok(!everything.includes(key.slice(-43)), 'no key secret in a log line or metric');
  assert.match(metrics, /cortex_api_key_requests_total\{api="counter",api_key="first",result="allowed"\} \d/);
  assert.match(metrics, /api_key="limited",result="rate_limited"/);
  assert.match(metrics, /cortex_requests_total\{api="counter",status_code="401"\}/);
  const lines = s.logs();
  assert.ok(lines.some((l) => l.api_key === 'first' && l.status === 200));
  assert.ok(lines.some((l) => l.api_key === 'limited' && l.status === 429));
  assert.ok(lines.some((l) => l.status === 401 && !('api_key' in l)));
});
