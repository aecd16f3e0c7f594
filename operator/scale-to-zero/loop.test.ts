// The scale-to-zero loop on a fake clock, with the adapter's activity, the activator's held
// requests and the Deployment given as data, and the writes recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiActivity } from '../metrics-adapter/samples.ts';
import { silentLogger } from '../util/log.ts';
import { ScaleToZeroLoop, formatSeconds, type ApiObject } from './loop.ts';
import { SCALED_TO_ZERO_ANNOTATION, type Deployment } from './replicas.ts';

const T0 = Date.parse('2026-11-25T10:00:00Z');

function api(autoscaling: object): ApiObject {
  return {
    apiVersion: 'cortex.dev/v1alpha1',
    kind: 'RealtimeAPI',
    metadata: { name: 'iris', namespace: 'ml', uid: 'u1' },
    spec: {
      predictor: { type: 'python', path: 'p.py', image: 'img:1' },
      autoscaling: { maxReplicas: 3, scaleToZeroAfter: '30s', ...autoscaling },
    },
  } as ApiObject;
}

function deployment(replicas: number, ready = replicas, annotations?: Record<string, string>): Deployment {
  return {
    metadata: { name: 'iris', namespace: 'ml', resourceVersion: '7', annotations },
    spec: { replicas, selector: {}, template: {} },
    status: { readyReplicas: ready },
  } as Deployment;
}

/** A loop whose inputs the test sets; `writes` records replicas written. */
function harness(o: { api?: ApiObject; deployment?: Deployment; routable?: boolean } = {}) {
  const h = {
    now: T0,
    api: o.api ?? api({ minReplicas: 0, initReplicas: 1 }),
    deployment: o.deployment ?? deployment(1),
    activity: undefined as ApiActivity | undefined,
    held: 0,
    conflict: false,
    writes: [] as number[],
    events: [] as string[],
  };
  const loop = new ScaleToZeroLoop({
    apis: () => [h.api],
    deployment: () => h.deployment,
    activity: () => h.activity,
    held: () => h.held,
    scale: async (_d, replicas) => {
      if (h.conflict) return undefined;
      h.writes.push(replicas);
      h.deployment = deployment(replicas, 0, replicas === 0 ? { [SCALED_TO_ZERO_ANNOTATION]: 'now' } : undefined);
      return h.deployment;
    },
    states: new Map(),
    routable: o.routable ?? true,
    log: silentLogger,
    events: { event: (_o, _type, reason, message) => h.events.push(`${reason}: ${message}`) },
    now: () => h.now,
  });
  /** Advances the clock to T0 + s seconds and ticks. */
  const at = async (s: number) => {
    h.now = T0 + s * 1000;
    await loop.tick();
  };
  /** The adapter's view: replicas scraped `scrapedAt` s after T0, the last request at `lastRequest` s. */
  const scraped = (scrapedAt: number, lastRequest?: number, inFlight = 0) => {
    h.activity = {
      lastRequestAt: lastRequest === undefined ? undefined : new Date(T0 + lastRequest * 1000),
      observedSince: new Date(T0 - 3600_000),
      inFlight,
      requestsTotal: 5,
      pods: [{ name: 'iris-1', inFlight, requestsTotal: 5, at: new Date(T0 + scrapedAt * 1000) }],
    };
  };
  return { h, loop, at, scraped };
}

test(
  'an API with minReplicas 0 goes to zero once no request was seen for scaleToZeroAfter, ' + 'with an Event',
  async () => {
    const { h, at, scraped } = harness();
    scraped(0, 0);
    await at(0); // first seen: idle counts from here
    scraped(20, 0);
    await at(20);
    assert.deepEqual(h.writes, [], 'idle 20 s of 30 s');
    scraped(30, 0);
    await at(30);
    assert.deepEqual(h.writes, [0]);
    assert.deepEqual(h.events, [
      'ScaledToZero: no request for 30s (scaleToZeroAfter 30s): scaled to zero; the next request starts a replica',
    ]);
    await at(60);
    assert.deepEqual(h.writes, [0], 'at zero it stays there without a request');
  },
);

test('requests keep it up: idleness counts from the last one', async () => {
  const { h, at, scraped } = harness();
  scraped(0, 0);
  await at(0);
  scraped(25, 25);
  await at(25);
  scraped(50, 25);
  await at(50);
  assert.deepEqual(h.writes, [], '25 s since the last request');
  scraped(55, 25);
  await at(55);
  assert.deepEqual(h.writes, [0]);
});

test('requests in flight on a replica or held in the activator count as traffic', async () => {
  const { h, at, scraped } = harness();
  scraped(0, 0, 2);
  await at(0);
  for (const s of [20, 40, 60]) {
    scraped(s, 0, 2); // one long request, no new ones: in flight all along
    await at(s);
  }
  assert.deepEqual(h.writes, []);
  scraped(100, 0, 0); // nothing on the replica any more...
  h.held = 1; // ...but one request waits in the activator
  await at(100);
  assert.deepEqual(h.writes, [], 'held in the activator');
  h.held = 0;
  scraped(120, 0, 0);
  await at(120);
  assert.deepEqual(h.writes, [], 'idle only since the held request: 20 s');
  scraped(131, 0, 0);
  await at(131);
  assert.deepEqual(h.writes, [0]);
});

test('never on stale data: without a recent scrape nothing goes to zero', async () => {
  const { h, at, scraped } = harness();
  scraped(0, 0);
  await at(0);
  await at(120); // the adapter stopped scraping the replica (or the metrics API is off)
  assert.deepEqual(h.writes, []);
  h.activity = undefined;
  await at(300);
  assert.deepEqual(h.writes, []);
});

test('an API woken but never ready (no replica can serve) goes back to zero after scaleToZeroAfter', async () => {
  const { h, at } = harness({ deployment: deployment(1, 0) });
  await at(0);
  await at(29);
  assert.deepEqual(h.writes, []);
  await at(31);
  assert.deepEqual(h.writes, [0]);
});

test('a write refused because the Deployment changed meanwhile is decided again on the next tick', async () => {
  const { h, at, scraped } = harness();
  scraped(0, 0);
  await at(0);
  scraped(31, 0);
  h.conflict = true;
  await at(31);
  assert.deepEqual(h.writes, []);
  h.conflict = false;
  scraped(33, 0);
  await at(33);
  assert.deepEqual(h.writes, [0]);
});

test(
  'minReplicas raised while at zero: back to minReplicas; ' + 'a zero a person chose (no annotation) is left alone',
  async () => {
    const ours = harness({
      api: api({ minReplicas: 2 }),
      deployment: deployment(0, 0, { [SCALED_TO_ZERO_ANNOTATION]: '2026-11-25T09:00:00Z' }),
    });
    await ours.at(0);
    assert.deepEqual(ours.h.writes, [2]);
    assert.deepEqual(ours.h.events, ['ScaledFromZero: minReplicas is 2: scaled from 0 to 2']);
    const theirs = harness({ api: api({ minReplicas: 2 }), deployment: deployment(0, 0) });
    await theirs.at(0);
    assert.deepEqual(theirs.h.writes, []);
  },
);

test(
  'without an activator address nothing goes to zero, ' + 'and an API at zero stays there (nothing could wake it)',
  async () => {
    const idle = harness({ routable: false });
    idle.scraped(0, 0);
    await idle.at(0);
    idle.scraped(600, 0);
    await idle.at(600);
    assert.deepEqual(idle.h.writes, []);
    const atZero = harness({ routable: false, deployment: deployment(0, 0) });
    atZero.h.held = 1;
    await atZero.at(0);
    assert.deepEqual(atZero.h.writes, []);
  },
);

test('durations read as people write them', () => {
  assert.deepEqual(
    [formatSeconds(30), formatSeconds(90), formatSeconds(300), formatSeconds(61.4)],
    ['30s', '1m30s', '5m', '1m1s'],
  );
});
