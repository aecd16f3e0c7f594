// Cortex 0.30-0.35's metrics_client, through a real `cortex serve`: a predictor's increment,
// gauge and histogram calls (in __init__, predict, post_predict, a callback, a thread of its own)
// appear on the replica's /metrics with the API's label and the call's tags, whether one thread
// or several write the answers; a bad metric name is an error the predictor sees.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { postJson, repoRoot, serve, waitFor, type Served } from './helpers/serve.ts';

const project = path.join(repoRoot, 'test', 'fixtures', 'metrics-client');
const running: Served[] = [];
after(() => Promise.all(running.map((s) => s.stop())));

async function start(api: string): Promise<Served> {
  const s = await serve(project, { args: ['--api', api] });
  running.push(s);
  return s;
}

const scrape = async (s: Served) => (await fetch(`${s.url}/metrics`)).text();
const value = (text: string, series: string) =>
  Number(
    text
      .split('\n')
      .find((l) => l.startsWith(`${series} `))
      ?.slice(series.length + 1),
  );

describe('metrics_client', { concurrency: false }, () => {
  for (const api of ['counted', 'counted-threads']) {
    test(`${api}: every call reaches /metrics with the api label and its tags`, async () => {
      const s = await start(api);
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => postJson(s.url, { model: i % 4 === 0 ? 'v2' : 'v1', ms: 30 })),
      );
      assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]));
      assert.equal((await postJson(s.url, { thread: true })).status, 200);
      const text = await waitFor('post_predict metrics on /metrics', async () => {
        const t = await scrape(s);
        return value(t, `post_predicted{api="${api}"}`) === 41 ? t : undefined;
      });
      assert.equal(value(text, `model_loaded{api="${api}"}`), 1, 'from __init__');
      assert.equal(value(text, `my_counter{api="${api}",model="v1"}`), 31);
      assert.equal(value(text, `my_counter{api="${api}",model="v2"}`), 10);
      assert.equal(value(text, `my_histogram_count{api="${api}",model="v1"}`), 31);
      assert.equal(value(text, `my_histogram_bucket{le="0.05",api="${api}",model="v1"}`), 30);
      assert.equal(value(text, `from_thread{api="${api}",source="thread"}`), 3, "from the predictor's own thread");
    });
  }

  test('a metric name Prometheus cannot take fails the request with a 500 and the rule in the log', async () => {
    const s = running.find((r) => r.logs().some((l) => l.api === 'counted')) ?? (await start('counted'));
    const r = await postJson(s.url, { bad_name: true });
    assert.equal(r.status, 500);
    const rule = /'bad name' is not a metric name this API can export/;
    await waitFor('the ValueError in the log', () => s.logs().some((l) => rule.test(String(l.message))) || undefined);
  });

  test("a Handler's calls and its callback's are counted too", async () => {
    const s = await start('counted-handler');
    for (let i = 0; i < 3; i++) assert.equal((await postJson(s.url, { i })).status, 200);
    await waitFor(
      'callback metrics',
      async () => value(await scrape(s), 'callbacks_run{api="counted-handler"}') === 3 || undefined,
    );
    assert.equal(value(await scrape(s), 'handled{api="counted-handler",verb="post"}'), 3);
  });
});
