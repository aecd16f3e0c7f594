// Cortex 0.20's realtime projects (test/eras/fixtures/v0_20: our own, in that release's format)
// deploy unchanged to the local environment and answer as 0.20's docs say
// (docs/deployments/realtime-api/predictors.md and api-configuration.md at v0.20.0).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../helpers/serve.ts';
import { IRIS_SAMPLES, eraEnvironment, post, type Era } from './era-project.ts';

describe('Cortex 0.20 projects', { concurrency: false }, () => {
  let era: Era;
  let irisWarnings: string;
  let echoWarnings: string;
  before(async () => {
    era = await eraEnvironment('v0_20');
    irisWarnings = await era.deploy('iris-classifier');
    echoWarnings = await era.deploy('echo');
  });
  after(async () => {
    await era?.cleanup();
  });

  test('iris-classifier: the sklearn example answers each label as text/plain; GET is the summary', async () => {
    assert.match(irisWarnings, /api "iris-classifier": monitoring: ignored: monitoring was removed in Cortex 0\.25/);
    for (const [measurements, label] of IRIS_SAMPLES) {
      const answer = await era.ask('/iris-classifier', post(measurements));
      assert.deepEqual([answer.status, answer.type, answer.text], [200, 'text/plain', label]);
    }
    const summary = await era.ask('/iris-classifier');
    assert.deepEqual([summary.status, summary.json().api], [200, 'iris-classifier']);
  });

  test("echo: every field of 0.20's api-configuration is accepted; those meaningless here are named", async () => {
    for (const ignored of ['networking.local_port', 'networking.api_gateway', 'monitoring', 'predictor.image']) {
      assert.match(echoWarnings, new RegExp(`api "echo": ${ignored.replace('.', '\\.')}: `), ignored);
    }
    assert.doesNotMatch(echoWarnings, /autoscaling|update_strategy|compute/);
    const summary = (await era.ask('/echo')).json();
    assert.deepEqual(summary.workers, { ready: 2, total: 2 }, 'processes_per_replica: 2');
  });

  test('payload by Content-Type: JSON parsed, octet-stream and none as bytes, forms as mappings', async () => {
    const payload = async (init: RequestInit) => (await era.ask('/echo', init)).json().payload;
    assert.deepEqual(await payload(post({ a: [1, 2] })), { kind: 'mapping', value: { a: [1, 2] } });
    assert.deepEqual(await payload(post([1, 2])), { kind: 'list', value: [1, 2] });
    assert.deepEqual(await payload(post('raw', 'application/octet-stream')), { kind: 'bytes', value: 'raw' });
    assert.deepEqual(await payload(post(new TextEncoder().encode('no header'), null)), {
      kind: 'bytes',
      value: 'no header',
    });
    assert.deepEqual(await payload(post('a=1&b=two', 'application/x-www-form-urlencoded')), {
      kind: 'mapping',
      value: { a: '1', b: 'two' },
    });
    const form = new FormData();
    form.append('text', 'hi');
    form.append('file', new Blob(['1,2\n']), 'data.csv');
    assert.deepEqual(await payload({ method: 'POST', body: form }), {
      kind: 'mapping',
      value: { text: 'hi', file: { filename: 'data.csv', content: '1,2\n' } },
    });
  });

  test('text/plain is a str, as from Cortex 0.25 on (0.20-0.24 passed bytes; docs/cortex-compat.md)', async () => {
    const answer = await era.ask('/echo', post('plain', 'text/plain'));
    assert.deepEqual(answer.json().payload, { kind: 'str', value: 'plain' });
  });

  test('responses: JSON, str as text/plain, bytes as octet-stream, a Starlette Response as it is', async () => {
    const json = await era.ask('/echo', post({}));
    assert.deepEqual([json.status, json.type], [200, 'application/json']);
    const text = await era.ask('/echo?as=text', post({}));
    assert.deepEqual([text.status, text.type, text.text], [200, 'text/plain', 'hello!']);
    const bytes = await era.ask('/echo?as=bytes', post({}));
    assert.deepEqual([bytes.status, bytes.type], [200, 'application/octet-stream']);
    assert.deepEqual([...Buffer.from(bytes.text, 'latin1')].slice(0, 3), [0, 1, 2]);
    const response = await era.ask('/echo?as=response', post({}));
    assert.deepEqual([response.status, response.type, response.text], [201, 'text/csv', 'a,b\n1,2\n']);
  });

  test('query_params, headers, config, python_path, env and .env, project files, .cortexignore', async () => {
    const answer = await era.ask('/echo?model=a&as=json', post({}, 'application/json', { 'X-Tenant': 't1' }));
    assert.deepEqual(answer.json(), {
      payload: { kind: 'mapping', value: {} },
      query_params: { model: 'a', as: 'json' },
      x_tenant: 't1',
      env: ['from-cortex-yaml', 'from-dotenv'],
      deployed_notes: false,
    });
  });

  test('invalid JSON is a 400, an exception in predict a 500; post_predict runs after the response', async () => {
    const invalid = await era.ask('/echo', post('{bad', 'application/json'));
    assert.deepEqual([invalid.status, invalid.type], [400, 'application/json']);
    assert.match(invalid.json().error, /invalid JSON/);
    const failed = await era.ask('/echo?as=error', post({}));
    assert.equal(failed.status, 500);
    await waitFor('post_predict in the logs', async () => {
      const logs = await era.local.cortex(['logs', 'echo']);
      return /post_predict after text: str/.test(logs.stdout) &&
        /RuntimeError: the predictor failed on purpose/.test(logs.stdout)
        ? true
        : undefined;
    });
  });

  test('a predictor that fails in __init__: the deploy says why, and cortex get says it once', async () => {
    const project = mkdtempSync(path.join(tmpdir(), 'cortex-era-'));
    try {
      writeFileSync(
        path.join(project, 'cortex.yaml'),
        '- name: broken\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n',
      );
      writeFileSync(
        path.join(project, 'predictor.py'),
        'class PythonPredictor:\n    def __init__(self, config):\n        raise ValueError("no model here")\n\n' +
          '    def predict(self, payload):\n        return payload\n',
      );
      const deploy = await era.local.cortex(['deploy', project]);
      assert.equal(deploy.code, 1);
      assert.match(deploy.stderr, /broken was not deployed: predictor failed to initialise: ValueError: no model here/);
      for (const args of [['get'], ['get', 'broken']]) {
        const get = await era.local.cortex(args);
        assert.equal(
          get.stdout.match(/ValueError: no model here/g)?.length,
          1,
          `cortex ${args.join(' ')}:\n${get.stdout}`,
        );
      }
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
