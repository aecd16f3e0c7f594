import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CliError, ExitCode } from '../errors.ts';
import { cortex, prodEnv, testFactory } from '../commands/testing.ts';
import type { BackendRates } from '../local/splitter-view.ts';
import { requestCounts } from './splitter-view.ts';

test("requestCounts: the runtime's cortex_requests_total by status class", () => {
  const text = [
    '# TYPE cortex_requests_total counter',
    'cortex_requests_total{method="POST",status_code="200"} 7',
    'cortex_requests_total{method="GET",status_code="204"} 1',
    'cortex_requests_total{method="POST",status_code="503"} 2',
    'cortex_request_duration_seconds_count 10',
  ].join('\n');
  assert.deepEqual(requestCounts(text), { '2XX': 8, '4XX': 0, '5XX': 2 });
});

test('get SPLITTER -e CLUSTER: its status, URL and each API side by side', async () => {
  const rows: BackendRates[] = [
    {
      api: 'iris',
      weight: 90,
      status: 'live',
      requestsPerSecond: 45.2,
      errorRate: 0,
      total: { '2XX': 900, '4XX': 0, '5XX': 0 },
    },
    {
      api: 'iris-v2',
      weight: 10,
      status: 'live',
      requestsPerSecond: 5,
      errorRate: 20,
      total: { '2XX': 80, '4XX': 0, '5XX': 20 },
    },
  ];
  const factory = () =>
    testFactory({
      environments: [prodEnv],
      defaultEnvironment: 'prod',
      cluster: {
        getApi: (name: string) => Promise.reject(new CliError(`no API named ${name}`, ExitCode.NotFound)),
        splitter: (name: string) =>
          Promise.resolve({
            name,
            spec: { networking: { endpoint: '/sentiment' }, apis: [] },
            status: { status: 'live' as const, url: 'https://api.example.com/sentiment' },
          }),
        splitterRates: () => Promise.resolve(rows),
      },
    });
  const r = await cortex(factory(), 'get', 'sentiment', '-e', 'prod');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^status: live\n/);
  assert.match(r.stdout, /iris-v2\s+10%\s+live\s+5\.0\s+20\.0%\s+80\s+20/);
  assert.match(r.stdout, /endpoint: https:\/\/api\.example\.com\/sentiment/);
  const json = JSON.parse((await cortex(factory(), 'get', 'sentiment', '-e', 'prod', '-o', 'json')).stdout) as {
    backends: BackendRates[];
  };
  assert.deepEqual(json.backends, rows);
  const neither = testFactory({
    environments: [prodEnv],
    defaultEnvironment: 'prod',
    cluster: {
      getApi: () => Promise.reject(new CliError('no API named nope', ExitCode.NotFound)),
      splitter: () => Promise.resolve(undefined),
    },
  });
  assert.equal((await cortex(neither, 'get', 'nope', '-e', 'prod')).code, 3);
});
