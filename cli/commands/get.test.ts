import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Chalk } from 'chalk';
import { table } from '../output.ts';
import { ago, apiView, cortex, pod, prodEnv, realtimeApi, supervisorStatus, testFactory } from './testing.ts';

const plain = new Chalk({ level: 0 });
const HEADERS = ['api', 'status', 'replicas', 'up-to-date', 'last update', 'avg request', '2XX', '4XX', '5XX'];

test('get: a table of the local APIs, with notes on those in error', async () => {
  const broken = apiView({
    name: 'broken',
    endpoint: '/broken',
    status: 'error',
    reason: 'predictor.py crashed',
    ready: 0,
    upToDate: 0,
    restarts: 2,
    lastUpdate: undefined,
    metrics: { '2XX': 0, '4XX': 0, '5XX': 5 },
  });
  const splitters = [
    {
      name: 'iris-split',
      endpoint: '/iris-split',
      createdAt: '2026-12-03T00:00:00Z',
      apis: [
        { name: 'iris', weight: 90, shadow: false },
        { name: 'broken', weight: 10, shadow: false },
      ],
    },
  ];
  const f = testFactory({
    local: {
      apis: () => Promise.resolve([apiView(), broken]),
      status: () => Promise.resolve({ ...supervisorStatus([]), splitters }),
    },
  });
  assert.deepEqual(await cortex(f, 'get'), {
    code: 0,
    stdout:
      table(
        [...HEADERS, 'endpoint'],
        [
          ['iris', 'live', '1/1', '1', '2m', '1.50 ms', '3', '1', '0', 'http://localhost:8888/iris'],
          ['broken', 'error', '0/1', '0', '-', '-', '0', '0', '5', 'http://localhost:8888/broken'],
        ],
        plain,
      ) +
      '\nbroken: error: predictor.py crashed (restarted 2 times)\n' +
      '\n' +
      table(
        ['traffic splitter', 'apis', 'endpoint'],
        [['iris-split', 'iris:90 broken:10', 'http://localhost:8888/iris-split']],
        plain,
      ),
    stderr: '',
  });
});

test('get: colours only on a terminal', async () => {
  const local = { apis: () => Promise.resolve([apiView()]), status: () => Promise.resolve(undefined) };
  const f = testFactory({ io: { tty: true }, local });
  const { stdout } = await cortex(f, 'get');
  assert.match(stdout, /^\x1b\[1mapi /);
  assert.match(stdout, /\x1b\[32mlive\x1b\[39m/);
  const noColor = testFactory({ io: { tty: true, color: false }, local });
  assert.doesNotMatch((await cortex(noColor, 'get')).stdout, /\x1b/);
});

test('get with nothing deployed says how to deploy', async () => {
  const f = testFactory({ local: { apis: () => Promise.resolve([]), status: () => Promise.resolve(undefined) } });
  assert.deepEqual(await cortex(f, 'get'), {
    code: 0,
    stdout: 'no APIs are deployed in the local environment; deploy one with: cortex deploy DIR\n',
    stderr: '',
  });
  const json = await cortex(testFactory({ local: { apis: () => Promise.resolve([]) } }), 'get', '-o', 'json');
  assert.deepEqual(json, { code: 0, stdout: '[]\n', stderr: '' });
});

test('get API: its fields, replicas and a curl example; -o json is the API view as is', async () => {
  const view = apiView({ source: '/projects/iris' });
  const f = testFactory({ local: { apis: () => Promise.resolve([view]) } });
  const { code, stdout, stderr } = await cortex(f, 'get', 'iris');
  assert.equal(code, 0);
  assert.equal(stderr, '');
  const lines = stdout.split('\n');
  assert.deepEqual(lines.slice(0, 6), [
    'status:        live',
    'replicas:      1/1 ready, 1 up to date, 0 restarts',
    'last update:   2m ago (version abc1234)',
    'endpoint:      http://localhost:8888/iris',
    'requests:      2XX 3, 4XX 1, 5XX 0; average 1.50 ms',
    'deployed from: /projects/iris',
  ]);
  assert.match(lines[7], /^replica +version +role +state +restarts +pid +started +last error$/);
  assert.match(lines[8], /^iris-1 +abc1234 +current +ready +0 +4242 +30s +-$/);
  assert.match(stdout, /\nexample: curl http:\/\/localhost:8888\/iris -X POST /);

  const json = await cortex(
    testFactory({ local: { apis: () => Promise.resolve([view]) } }),
    'get',
    'iris',
    '-o',
    'json',
  );
  assert.equal(json.code, 0);
  assert.deepEqual(JSON.parse(json.stdout), JSON.parse(JSON.stringify(view)));
  assert.ok(json.stdout.startsWith('{\n  "name": "iris"'), 'indented');
});

test('get API that is not deployed exits 3 naming those that are; a bad -o exits 2', async () => {
  const f = testFactory({
    local: { apis: () => Promise.resolve([apiView()]), status: () => Promise.resolve(undefined) },
  });
  assert.deepEqual(await cortex(f, 'get', 'nope'), {
    code: 3,
    stdout: '',
    stderr: 'error: no API named nope; deployed: iris\n',
  });
  const none = testFactory({ local: { apis: () => Promise.resolve([]), status: () => Promise.resolve(undefined) } });
  assert.equal(
    (await cortex(none, 'get', 'nope', '-o', 'json')).stderr,
    'error: no API named nope: nothing is deployed\n',
  );
  assert.equal((await cortex(testFactory(), 'get', '-o', 'wide')).code, 2);
  assert.equal((await cortex(testFactory(), 'get', '-e', 'nowhere')).code, 3);
});

test('get -e CLUSTER: the RealtimeAPIs as the operator describes them, as text and JSON', async () => {
  const stuck = realtimeApi('slow', { status: 'compute unavailable', message: '0/3 nodes have a GPU' });
  const cluster = { listApis: () => Promise.resolve([realtimeApi('iris'), stuck]) };
  const f = testFactory({ environments: [prodEnv], cluster });
  const { code, stdout } = await cortex(f, 'get', '-e', 'prod');
  assert.equal(code, 0);
  assert.deepEqual(f.connected, ['prod']);
  assert.equal(
    stdout,
    table(
      ['api', 'status', 'replicas', 'up-to-date', 'last update', 'endpoint (in the cluster)'],
      [
        ['iris', 'live', '1/1', '1', '1m', 'http://iris.ml.svc.cluster.local/'],
        ['slow', 'compute unavailable', '1/1', '1', '1m', 'http://slow.ml.svc.cluster.local/'],
      ],
      plain,
    ) + '\nslow: compute unavailable: 0/3 nodes have a GPU\n',
  );
  const json = await cortex(testFactory({ environments: [prodEnv], cluster }), 'get', '-e', 'prod', '-o', 'json');
  const views: unknown = JSON.parse(json.stdout);
  assert.ok(Array.isArray(views));
  assert.deepEqual(
    views.map((v: { name: string; status: string; namespace: string }) => [v.name, v.status, v.namespace]),
    [
      ['iris', 'live', 'ml'],
      ['slow', 'compute unavailable', 'ml'],
    ],
  );

  const empty = testFactory({
    environments: [prodEnv],
    defaultEnvironment: 'prod',
    cluster: { listApis: () => Promise.resolve([]) },
  });
  assert.equal(
    (await cortex(empty, 'get')).stdout,
    'no APIs in namespace ml of prod; deploy one with: cortex deploy DIR -e prod\n',
  );
});

test('get API -e CLUSTER: its status, environment and pods; -o json adds conditions and pods', async () => {
  const cluster = {
    getApi: (name: string) => Promise.resolve(realtimeApi(name)),
    apiPods: () => Promise.resolve([pod('iris-abc', true), pod('iris-def', false)]),
  };
  const f = testFactory({ environments: [prodEnv], cluster });
  const { code, stdout } = await cortex(f, 'get', 'iris', '-e', 'prod');
  assert.equal(code, 0);
  assert.match(stdout, /^status: {6}live\nreplicas: {4}1\/1 ready, 1 up to date\nlast update: 1m ago\n/);
  assert.match(stdout, /\nendpoint: {4}http:\/\/iris\.ml\.svc\.cluster\.local\/ \(inside the cluster\)\n/);
  assert.match(stdout, /\nenvironment: prod, namespace ml\n/);
  assert.match(stdout, /\niris-abc +Running +yes +0 +node-1 +- +-\niris-def +Running +no /);
  assert.match(stdout, /\ntry it: cortex predict iris -e prod sample\.json\n$/);
  const json = await cortex(
    testFactory({ environments: [prodEnv], cluster }),
    'get',
    'iris',
    '-e',
    'prod',
    '-o',
    'json',
  );
  const view: unknown = JSON.parse(json.stdout);
  assert.ok(typeof view === 'object' && view !== null);
  assert.deepEqual(Object.keys(view).slice(-2), ['conditions', 'pods']);
});

test('get API -e CLUSTER: a failure the operator also wrote in its conditions is printed once', async () => {
  const failing = 'pod iris-abc keeps failing: predictor failed to initialise: ValueError: no model here';
  const cluster = {
    getApi: (name: string) =>
      Promise.resolve(
        realtimeApi(name, {
          status: 'error',
          message: failing,
          replicas: { requested: 1, ready: 0, updated: 1, available: 0 },
          conditions: [
            {
              type: 'Ready',
              status: 'False',
              reason: 'ContainerFailing',
              message: failing,
              lastTransitionTime: ago(5),
            },
            {
              type: 'Progressing',
              status: 'True',
              reason: 'RollingOut',
              message: '0/1 replicas ready, 1 up to date',
              lastTransitionTime: ago(5),
            },
          ],
        }),
      ),
    apiPods: () => Promise.resolve([pod('iris-abc', false)]),
  };
  const { code, stdout } = await cortex(testFactory({ environments: [prodEnv], cluster }), 'get', 'iris', '-e', 'prod');
  assert.equal(code, 0);
  assert.equal(stdout.split('ValueError: no model here').length - 1, 1, stdout);
  assert.match(stdout, /^status: +error: pod iris-abc keeps failing: /);
  assert.match(stdout, /\ncondition Ready: +False \(ContainerFailing\)\n/);
  assert.match(stdout, /\ncondition Progressing: +True \(RollingOut\): 0\/1 replicas ready, 1 up to date\n/);
});

test('get API: the requests, 5XX share and p50/p99 the environment collected, as text and in -o json', async () => {
  const recent = { windowSeconds: 300, requests: 40, errorRatio: 0.025, p50Ms: 12.5, p99Ms: 4.25 };
  const local = () => testFactory({ local: { apis: () => Promise.resolve([apiView({ recent })]) } });
  assert.match(
    (await cortex(local(), 'get', 'iris')).stdout,
    /\nlast 5m: +40 requests, 2\.5% 5XX, p50 13 ms, p99 4\.25 ms\n/,
  );
  assert.deepEqual(JSON.parse((await cortex(local(), 'get', 'iris', '-o', 'json')).stdout).recent, recent);

  const windowed = { ...recent, source: 'metrics-api' as const };
  const young = {
    windowSeconds: 95,
    requests: 0,
    source: 'replicas' as const,
    fallback: "the operator's metrics API did not give them (HTTP 503)",
  };
  const cases: [object, RegExp][] = [
    [
      windowed,
      /\nrequests: +40 requests, 2\.5% 5XX, p50 13 ms, p99 4\.25 ms \(the last 5m, from the operator's metrics API\)\n/,
    ],
    [
      young,
      /\nrequests: +no requests \(the last 1m35s, since the replicas started: the operator's metrics API did not give them \(HTTP 503\)\)\n/,
    ],
  ];
  for (const [figures, line] of cases) {
    const cluster = {
      getApi: (name: string) => Promise.resolve(realtimeApi(name)),
      apiPods: () => Promise.resolve([pod('iris-abc', true)]),
      recentRequests: () => Promise.resolve(figures as typeof young),
    };
    const f = () => testFactory({ environments: [prodEnv], cluster });
    assert.match((await cortex(f(), 'get', 'iris', '-e', 'prod')).stdout, line);
    assert.deepEqual(JSON.parse((await cortex(f(), 'get', 'iris', '-e', 'prod', '-o', 'json')).stdout).recent, figures);
  }
});

test('get -e CLUSTER lists BatchAPIs and TaskAPIs too: kind, jobs not ended, endpoint; JSON has kinds', async () => {
  const created = new Date(Date.now() - 120_000).toISOString();
  const jobApis = [
    { name: 'nightly', namespace: 'ml', kind: 'BatchAPI' as const, activeJobs: 2, path: '/nightly', created },
    { name: 'report', namespace: 'ml', kind: 'TaskAPI' as const, activeJobs: 0, path: '/reports', created },
  ];
  const cluster = {
    listApis: () => Promise.resolve([realtimeApi('iris')]),
    listJobApis: () => Promise.resolve(jobApis),
  };
  const { code, stdout } = await cortex(testFactory({ environments: [prodEnv], cluster }), 'get', '-e', 'prod');
  assert.equal(code, 0);
  assert.ok(
    stdout.startsWith(
      table(
        ['api', 'status', 'replicas', 'up-to-date', 'last update', 'endpoint (in the cluster)'],
        [['iris', 'live', '1/1', '1', '1m', 'http://iris.ml.svc.cluster.local/']],
        plain,
      ),
    ),
  );
  assert.ok(
    stdout.endsWith(
      '\n' +
        table(
          ['api', 'kind', 'active jobs', 'age', 'endpoint'],
          [
            ['nightly', 'BatchAPI', '2', '2m', '/nightly'],
            ['report', 'TaskAPI', '0', '2m', '/reports'],
          ],
          plain,
        ) +
        '\nsubmit a job: cortex submit nightly job.json -e prod; its jobs: cortex get nightly -e prod\n',
    ),
    stdout,
  );
  const json = await cortex(testFactory({ environments: [prodEnv], cluster }), 'get', '-e', 'prod', '-o', 'json');
  assert.deepEqual(
    (JSON.parse(json.stdout) as { name: string; kind: string }[]).map((v) => [v.name, v.kind]),
    [
      ['iris', 'RealtimeAPI'],
      ['nightly', 'BatchAPI'],
      ['report', 'TaskAPI'],
    ],
  );
  const only = testFactory({
    environments: [prodEnv],
    cluster: { listApis: () => Promise.resolve([]), listJobApis: () => Promise.resolve(jobApis.slice(1)) },
  });
  const text = (await cortex(only, 'get', '-e', 'prod')).stdout;
  assert.doesNotMatch(text, /no APIs in namespace/, 'a namespace with a job API is not empty');
  assert.match(text, /report\s+TaskAPI\s+0/);
});
