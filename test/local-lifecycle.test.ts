// The local environment as a user drives it, in a private $CORTEX_HOME on a free port:
// deploy → predict → get → logs → redeploy changed code under load (no request fails) →
// each bad version is refused with its reason while the running one keeps serving → delete.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { alive, copyProject, loadGenerator, localEnv, portIsFree, type LocalEnv } from './helpers/local.ts';
import { repoRoot, waitFor } from './helpers/serve.ts';

const broken = (name: string) => path.join(repoRoot, 'test', 'fixtures', 'local', 'broken', name);
const sample = { sepal_length: 5.2, sepal_width: 3.6, petal_length: 1.4, petal_width: 0.3 };
// The first deploy may install scikit-learn into the cached virtualenv.
const installTimeout = 600_000;

interface ApiJson {
  name: string;
  status: string;
  reason?: string;
  ready: number;
  requested: number;
  restarts: number;
  version?: string;
  url: string;
  lastDeployError?: { reason: string };
  metrics: Record<string, number | undefined>;
  replicas: { id: string; pid?: number; state: string; role: string }[];
}

describe('local environment: an API from deploy to delete', { concurrency: false }, () => {
  let local: LocalEnv;
  let project: string;
  const getApi = async (name: string): Promise<ApiJson> => {
    const r = await local.cortex(['get', name, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as ApiJson;
  };
  const predict = async () => {
    const r = await fetch(local.url('/iris-classifier'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(sample),
    });
    return { status: r.status, body: await r.text() };
  };
  /** What a refused deploy must leave as it was: the same replica, answering the same. */
  const assertUntouched = async (before: { pid: number | undefined; body: string }) => {
    const api = await getApi('iris-classifier');
    assert.equal(api.status, 'live');
    assert.deepEqual(
      api.replicas.map((r) => r.pid),
      [before.pid],
      'the running replica was not replaced',
    );
    assert.deepEqual(await predict(), { status: 200, body: before.body });
    return api;
  };
  const running = async () => {
    const api = await getApi('iris-classifier');
    return { pid: api.replicas[0].pid, body: (await predict()).body };
  };

  before(async () => {
    local = await localEnv();
    project = copyProject('examples/iris-classifier');
  });
  after(async () => {
    await local?.cleanup();
    if (project) rmSync(project, { recursive: true, force: true });
  });

  test(
    'deploy creates the API, shows its steps and prints the endpoint and a curl line that answers',
    { timeout: installTimeout },
    async () => {
      const r = await local.cortex(['deploy', project], { timeoutMs: installTimeout });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^creating iris-classifier$/m);
      assert.match(r.stdout, new RegExp(`iris-classifier is live at http://localhost:${local.port}/iris-classifier`));
      for (const step of [
        'validating',
        'packing',
        'installing requirements.txt',
        'starting 1 replica of iris-classifier',
        'waiting for iris-classifier to be ready',
      ]) {
        assert.match(r.stderr, new RegExp(`${step}.*\\(\\d+\\.\\ds\\)`), `step "${step}" with its time`);
      }
      const curl = r.stdout.split('\n').find((l) => l.startsWith('curl '));
      assert.ok(curl, r.stdout);
      const answer = await execa('sh', ['-c', curl], { cwd: repoRoot });
      assert.equal(answer.stdout, 'setosa');
    },
  );

  test('predict sends a file and prints the answer; a bad request exits 1', async () => {
    const r = await local.cortex(['predict', 'iris-classifier', path.join(project, 'sample.json')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'setosa');
    const stdin = await local.cortex(['predict', 'iris-classifier', '-'], {
      input: JSON.stringify({ ...sample, petal_length: 6.1, petal_width: 2.3, sepal_length: 7.7, sepal_width: 3.0 }),
    });
    assert.equal(stdin.stdout, 'virginica');
    const bad = await local.cortex(['predict', 'iris-classifier', '-'], { input: '{"sepal_length": 1}' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /iris-classifier answered 500/);
    const unknown = await local.cortex(['predict', 'no-such-api', '-'], { input: '{}' });
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /no API named no-such-api; deployed: iris-classifier/);
  });

  test('get shows status, replicas, requests by status class and latency; get API adds the curl example', async () => {
    const api = await getApi('iris-classifier');
    assert.equal(api.status, 'live');
    assert.equal(`${api.ready}/${api.requested}`, '1/1');
    assert.equal(api.url, `http://localhost:${local.port}/iris-classifier`);
    assert.ok((api.metrics['2XX'] ?? 0) >= 3, JSON.stringify(api.metrics));
    assert.equal(api.metrics['5XX'], 1);
    assert.ok((api.metrics.averageLatencyMs ?? -1) > 0);
    const table = await local.cortex(['get']);
    assert.equal(table.code, 0, table.stderr);
    const [header, row] = table.stdout.split('\n');
    assert.match(
      header,
      /^api\s+status\s+replicas\s+up-to-date\s+last update\s+avg request\s+2XX\s+4XX\s+5XX\s+endpoint$/,
    );
    assert.match(
      row,
      new RegExp(
        `^iris-classifier\\s+live\\s+1/1\\s+1\\s+\\d+s\\s+[\\d.]+ ms\\s+\\d+\\s+0\\s+1\\s+http://localhost:${local.port}/iris-classifier$`,
      ),
    );
    assert.doesNotMatch(table.stdout, /\x1b\[/, 'no colour when stdout is not a terminal');
    const one = await local.cortex(['get', 'iris-classifier']);
    assert.match(one.stdout, /^status:\s+live$/m);
    assert.match(one.stdout, new RegExp(`example: curl http://localhost:${local.port}/iris-classifier -X POST`));
    const missing = await local.cortex(['get', 'nope']);
    assert.equal(missing.code, 3);
  });

  test('logs prints what the replica logged', async () => {
    const r = await local.cortex(['logs', 'iris-classifier']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { message: string; status?: number });
    assert.ok(lines.some((l) => l.message === 'iris-classifier is ready'));
    assert.ok(lines.some((l) => l.message === 'POST / 200' && l.status === 200));
    assert.ok(
      lines.some((l) => /Traceback|KeyError/.test(l.message)),
      'the failed prediction is logged',
    );
  });

  test('a missing project or environment is refused with its exit code', async () => {
    const none = await local.cortex(['deploy', path.join(project, 'no-such-folder')]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no-such-folder: no such file or folder/);
    const env = await local.cortex(['get', '-e', 'aws']);
    assert.equal(env.code, 3);
    assert.match(env.stderr, /no environment named "aws"; environments: local/);
    const flag = await local.cortex(['get', '--bogus']);
    assert.equal(flag.code, 2);
  });

  test('deploying it unchanged says "up to date" and keeps the replica', async () => {
    const before = await running();
    const r = await local.cortex(['deploy', project]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^iris-classifier is up to date$/m);
    await assertUntouched(before);
  });

  test(
    'redeploying changed code is a rolling update: no request fails while it happens',
    { timeout: 120_000 },
    async () => {
      const old = await running();
      const predictor = path.join(project, 'predictor.py');
      writeFileSync(
        predictor,
        readFileSync(predictor, 'utf8').replace(
          'return self.labels[label_id]',
          'return self.labels[label_id] + " (v2)"',
        ),
      );
      const load = loadGenerator(local.url('/iris-classifier'), sample);
      await new Promise((r) => setTimeout(r, 300));
      const r = await local.cortex(['deploy', project]);
      const deployed = Date.now();
      await new Promise((r) => setTimeout(r, 1000));
      const { results, errors } = await load.stop();
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^updating iris-classifier$/m);
      assert.deepEqual(errors, [], 'no request failed to connect');
      const failed = results.filter((x) => x.status !== 200);
      assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${results.length} requests failed`);
      assert.ok(
        results.some((x) => x.body === 'setosa') && results.some((x) => x.body === 'setosa (v2)'),
        'old, then new answers',
      );
      const late = results.filter((x) => x.at > deployed + 300);
      assert.ok(
        late.length > 0 && late.every((x) => x.body === 'setosa (v2)'),
        'only the new version answers once deploy returned',
      );
      assert.ok(results.length > 50, `${results.length} requests during the update`);
      await waitFor(
        'the old replica to exit',
        () => (old.pid !== undefined && !alive(old.pid) ? true : undefined),
        40_000,
      );
      const api = await getApi('iris-classifier');
      assert.equal(api.replicas.length, 1);
      assert.notEqual(api.replicas[0].pid, old.pid);
    },
  );

  test('an invalid cortex.yaml is refused with file, line, API, field and fix, before anything changes', async () => {
    const before = await running();
    const config = path.join(project, 'cortex.yaml');
    const good = readFileSync(config, 'utf8');
    copyFileSync(broken('bad-field.yaml'), config);
    try {
      const r = await local.cortex(['deploy', project]);
      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        /cortex\.yaml:9:5: api "iris-classifier": autoscaling\.min_replica: unknown field "min_replica" under autoscaling; did you mean "min_replicas"\?; fix: rename it to min_replicas/,
      );
      assert.match(r.stderr, /nothing was deployed/);
      assert.equal(r.stdout, '');
    } finally {
      writeFileSync(config, good);
    }
    await assertUntouched(before);
  });

  const badVersions: { what: string; file: string; target: string; message: RegExp }[] = [
    {
      what: 'a predictor that does not compile',
      file: 'syntax_error.py',
      target: 'predictor.py',
      message: /predictor failed to initialise: SyntaxError/,
    },
    {
      what: 'a failing __init__',
      file: 'init_error.py',
      target: 'predictor.py',
      message: /predictor failed to initialise: ValueError: model file not found: \/models\/missing\.pkl/,
    },
    {
      what: 'a predictor process that exits before it is ready',
      file: 'exits_early.py',
      target: 'predictor.py',
      message: /worker exited before it was ready \(code 7\)/,
    },
    // pip's own output is shown as the step runs, then its last lines in the error.
    {
      what: 'a requirement pip cannot install',
      file: 'requirements.txt',
      target: 'requirements.txt',
      message:
        /installing requirements\.txt \.\.\.\n(  \| .*\n)*  \| ERROR: No matching distribution found for this-package-does-not-exist-cortex-test[\s\S]*pip install -r .*requirements\.txt failed[\s\S]*nothing was deployed/,
    },
  ];
  for (const bad of badVersions) {
    test(
      `a deploy with ${bad.what} fails with the reason and leaves the running version serving`,
      { timeout: 120_000 },
      async () => {
        const before = await running();
        const target = path.join(project, bad.target);
        const good = readFileSync(target);
        copyFileSync(broken(bad.file), target);
        let r;
        try {
          r = await local.cortex(['deploy', project]);
        } finally {
          writeFileSync(target, good);
        }
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, bad.message);
        if (bad.target !== 'requirements.txt') {
          assert.match(r.stdout, /^updating iris-classifier$/m);
          assert.match(r.stderr, /the running version of iris-classifier keeps serving/);
          assert.doesNotMatch(r.stderr, new RegExp(local.home), 'messages name the project files, not their snapshot');
        }
        const api = await assertUntouched(before);
        if (bad.target !== 'requirements.txt') assert.match(api.lastDeployError?.reason ?? '', bad.message);
      },
    );
  }

  test('delete stops the processes, frees the port and removes the files', { timeout: 60_000 }, async () => {
    const { pid } = await running();
    const supervisor = local.supervisorPid();
    assert.ok(supervisor !== undefined && alive(supervisor));
    const r = await local.cortex(['delete', 'iris-classifier', '-y']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'deleted iris-classifier');
    assert.ok(await portIsFree(local.port), 'the port is free when delete returns');
    assert.ok(pid !== undefined && !alive(pid), 'the replica has exited');
    await waitFor('the supervisor to exit', () => (alive(supervisor) ? undefined : true), 15_000);
    assert.deepEqual(readdirSync(path.join(local.home, 'snapshots')), []);
    assert.ok(!existsSync(path.join(local.home, 'logs', 'iris-classifier')));
    assert.deepEqual(JSON.parse(readFileSync(path.join(local.home, 'state.json'), 'utf8')), {
      apis: {},
      splitters: {},
    });
    const get = await local.cortex(['get']);
    assert.match(get.stdout, /no APIs are deployed/);
    assert.equal(local.supervisorPid(), undefined, 'get did not start a supervisor for nothing');
    const again = await local.cortex(['delete', 'iris-classifier', '-y']);
    assert.equal(again.code, 3);
  });
});
