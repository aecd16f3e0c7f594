// `cortex get API` on the local environment shows the last minutes of an API: the supervisor
// scrapes the replicas' /metrics and `get` prints the requests, the share of 5xx and p50/p99
// (and `-o json` has the numbers), from requests with known latencies and failures.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { localEnv, type LocalEnv } from './helpers/local.ts';
import { repoRoot } from './helpers/serve.ts';
import type { RecentRequests } from '../operator/metrics-adapter/request-stats.ts';

const FIXTURE = path.join(repoRoot, 'test', 'fixtures', 'local', 'latency');

describe('local environment: cortex get API shows latency and errors of the last minutes', () => {
  let local: LocalEnv;
  const post = (payload: unknown) =>
    fetch(local.url('/latency'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    }).then(async (r) => (await r.text(), r.status));
  const recent = async (): Promise<RecentRequests> => {
    const r = await local.cortex(['get', 'latency', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { recent: RecentRequests }).recent;
  };

  before(async () => {
    local = await localEnv();
    const r = await local.cortex(['deploy', FIXTURE]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => local?.cleanup());

  test('no requests yet: the window is there, with nothing in it', async () => {
    const r = await recent();
    assert.equal(r.requests, 0);
    assert.equal(r.errorRatio, undefined);
  });

  test('8 slow answers and 2 failures: 10 requests, 20% 5XX, p50 and p99 from the slow answers', async () => {
    const statuses = await Promise.all([
      ...Array.from({ length: 8 }, () => post({ sleep: 0.3 })),
      post({ fail: true }),
      post({ fail: true }),
    ]);
    assert.deepEqual(statuses.sort(), [200, 200, 200, 200, 200, 200, 200, 200, 500, 500]);
    const r = await recent();
    assert.equal(r.requests, 10);
    assert.equal(r.errorRatio, 0.2);
    // 8 of 10 took at least 300 ms: the median and the 99th percentile are among them
    // (interpolated inside their bucket, at most the 1 s bound with a loaded machine)
    assert.ok(r.p50Ms! >= 250 && r.p50Ms! <= 1000, `p50 ${r.p50Ms}`);
    assert.ok(r.p99Ms! >= r.p50Ms! && r.p99Ms! <= 2500, `p99 ${r.p99Ms}`);
    assert.ok(r.windowSeconds > 0 && r.windowSeconds <= 300, `window ${r.windowSeconds}`);

    const text = await local.cortex(['get', 'latency']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^last (\d+m)?(\d+s)?: +10 requests, 20\.0% 5XX, p50 \d+ ms, p99 \d+ ms$/m);
  });
});
