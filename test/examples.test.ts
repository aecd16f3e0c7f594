// Every example in examples/ served for real and asked for predictions, as its README shows.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { postJson, repoRoot, serve } from './helpers/serve.ts';

const example = (name: string) => path.join(repoRoot, 'examples', name);
const sample = (name: string) => JSON.parse(readFileSync(path.join(example(name), 'sample.json'), 'utf8')) as unknown;
// The first run installs scikit-learn into the cached virtualenv.
const installTimeout = 600_000;

describe('examples', { concurrency: false }, () => {
  test(
    'iris-classifier: the shipped model classifies the sample (requirements.txt installed into a cached venv)',
    { timeout: installTimeout },
    async () => {
      const s = await serve(example('iris-classifier'), { timeoutMs: installTimeout });
      try {
        const r = await postJson(s.url, sample('iris-classifier'));
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
        assert.equal(await r.text(), 'setosa');
        const virginica = await postJson(s.url, {
          sepal_length: 7.7,
          sepal_width: 3.0,
          petal_length: 6.1,
          petal_width: 2.3,
        });
        assert.equal(await virginica.text(), 'virginica');
      } finally {
        await s.stop();
      }
      // A second start reuses the environment instead of reinstalling.
      const again = await serve(example('iris-classifier'), { timeoutMs: 60_000 });
      try {
        assert.ok(again.logs().some((l) => String(l.message).startsWith('reusing cached dependencies')));
        assert.ok(!again.logs().some((l) => l.source === 'pip'));
      } finally {
        await again.stop();
      }
    },
  );

  test(
    "multi-model: the article's shape, routing on ?model= with a Starlette 400 for an unknown model",
    { timeout: installTimeout },
    async () => {
      const s = await serve(example('multi-model'), { timeoutMs: installTimeout });
      try {
        const sentiment = await postJson(`${s.url}/?model=sentiment`, sample('multi-model'));
        assert.equal(sentiment.status, 200);
        assert.equal(((await sentiment.json()) as { label: string }).label, 'POSITIVE');
        const summary = await postJson(`${s.url}/predict?model=summarizer`, sample('multi-model'));
        assert.equal(await summary.text(), 'The new release is fast and the docs are great.');
        const unknown = await postJson(`${s.url}/?model=translator`, sample('multi-model'));
        assert.equal(unknown.status, 400);
        assert.deepEqual(await unknown.json(), { error: 'unknown model: translator' });
        assert.equal(unknown.headers.get('content-type'), 'application/json');
      } finally {
        await s.stop();
      }
    },
  );

  test('typescript-sentiment: a TypeScript predictor, including its own 400 Response', async () => {
    const s = await serve(example('typescript-sentiment'));
    try {
      const r = await postJson(s.url, sample('typescript-sentiment'));
      assert.equal(r.status, 200);
      const body = (await r.json()) as Record<string, unknown>;
      assert.ok('label' in body || 'sentiment' in body, JSON.stringify(body));
      const bad = await postJson(s.url, { nothing: true });
      assert.equal(bad.status, 400);
    } finally {
      await s.stop();
    }
  });

  test('batching: concurrent requests are predicted together, each gets its own answer', async () => {
    const s = await serve(example('batching'));
    try {
      const answers = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          postJson(s.url, { features: [i, 0, 0, 0] }).then(
            (r) => r.json() as Promise<{ score: number; batch_size: number }>,
          ),
        ),
      );
      answers.forEach((a, i) => assert.equal(a.score, Math.round((0.1 + 0.5 * i) * 1e6) / 1e6));
      assert.ok(
        answers.some((a) => a.batch_size > 1),
        `batch sizes: ${answers.map((a) => a.batch_size)}`,
      );
      assert.ok(answers.every((a) => a.batch_size <= 8));
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      assert.match(metrics, /cortex_batch_size_count\{api="batching"\} \d+/);
      // A lone request still gets answered once batch_interval has passed.
      const started = Date.now();
      const lone = (await (await postJson(s.url, { features: [1, 1, 1, 1] })).json()) as { batch_size: number };
      assert.equal(lone.batch_size, 1);
      assert.ok(Date.now() - started >= 45);
    } finally {
      await s.stop();
    }
  });

  test('token-streamer: tokens arrive one by one as text, as SSE events, as NDJSON lines', async () => {
    const s = await serve(example('token-streamer'));
    try {
      const r = await postJson(s.url, sample('token-streamer'));
      assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
      const arrivals: number[] = [];
      let text = '';
      const decoder = new TextDecoder();
      for await (const chunk of r.body!) {
        arrivals.push(performance.now());
        text += decoder.decode(chunk as Uint8Array);
      }
      assert.equal(text, 'and so the model kept writing, one token ');
      assert.ok(arrivals.length >= 4 && arrivals.at(-1)! - arrivals[0] >= 200, 'streamed, not buffered');
      const events = { prompt: 'hi', max_tokens: 2, events: true };
      const sse = await postJson(s.url, events, { accept: 'text/event-stream' });
      assert.equal(await sse.text(), 'data: {"index":0,"token":"and"}\n\ndata: {"index":1,"token":"so"}\n\n');
      const nd = await postJson(s.url, events);
      assert.equal(nd.headers.get('content-type'), 'application/x-ndjson');
      assert.equal(await nd.text(), '{"index":0,"token":"and"}\n{"index":1,"token":"so"}\n');
    } finally {
      await s.stop();
    }
  });
});
