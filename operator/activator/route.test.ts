import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeOf } from './route.ts';

test("the Host names cluster DNS gives an API's Service route to that API, with or without a port", () => {
  for (const host of [
    'iris.ml',
    'iris.ml.svc',
    'iris.ml.svc.cluster.local',
    'iris.ml.svc.cluster.local.',
    'IRIS.ML.SVC:80',
    'iris.ml:8080',
  ]) {
    assert.deepEqual(
      routeOf({ host }, 'cluster.local'),
      { namespace: 'ml', name: 'iris', from: `Host "${host}"` },
      host,
    );
  }
  assert.deepEqual(
    routeOf({ host: 'iris.ml.svc.corp.example' }, 'corp.example'),
    { namespace: 'ml', name: 'iris', from: 'Host "iris.ml.svc.corp.example"' },
    'the configured cluster domain',
  );
});

test('X-Cortex-API names the API and wins over Host', () => {
  assert.deepEqual(routeOf({ host: '127.0.0.1:8889', 'x-cortex-api': 'ml/iris' }, 'cluster.local'), {
    namespace: 'ml',
    name: 'iris',
    from: 'X-Cortex-API "ml/iris"',
  });
  assert.deepEqual(routeOf({ host: 'other.ns', 'x-cortex-api': ' ml/iris ' }, 'cluster.local'), {
    namespace: 'ml',
    name: 'iris',
    from: 'X-Cortex-API "ml/iris"',
  });
});

test('a Host or X-Cortex-API that names no API is an error that says how the activator routes', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      { host: '127.0.0.1:8889' },
      /Host "127\.0\.0\.1:8889" is not an API's Service name.*X-Cortex-API: <namespace>\/<api>/,
    ],
    [{ host: 'iris' }, /Host "iris" is not an API's Service name/],
    [{ host: 'iris.ml.svc.other.domain' }, /is not an API's Service name/],
    [{ host: 'iris.ml.cluster.local' }, /is not an API's Service name/],
    [{ host: 'Iris_x.ml' }, /must be DNS labels/],
    [{ 'x-cortex-api': 'iris' }, /X-Cortex-API "iris" is not <namespace>\/<api>/],
    [{ 'x-cortex-api': 'ml/Iris' }, /must be DNS labels/],
    [{}, /no Host header/],
  ];
  for (const [headers, message] of cases) {
    const r = routeOf(headers, 'cluster.local');
    assert.ok('error' in r, JSON.stringify(headers));
    assert.match(r.error, message);
  }
});
