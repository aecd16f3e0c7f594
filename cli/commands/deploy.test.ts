import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WaitOptions, WaitOutcome } from '../cluster/wait.ts';
import type { LocalSession } from '../factory.ts';
import type { DeployResult } from '../local/deploy.ts';
import { deployCommand, type DeployOptions } from './deploy.ts';
import { cortex, prodEnv, realtimeApi, testFactory, timeless } from './testing.ts';

const CURL = `-X POST -H 'Content-Type: application/json' -d '{}'`;

function result(overrides: Partial<DeployResult> = {}): DeployResult {
  return {
    api: 'iris',
    action: 'created',
    endpoint: '/iris',
    projectDir: '/nonexistent',
    plan: 'creating',
    ...overrides,
  };
}

/** A local deploy that reports the steps a real one does, and ends with `results`. */
function localDeploy(results: DeployResult[], seen: { config: string; yes: boolean }[] = []): LocalSession['deploy'] {
  return (options, reporter) => {
    seen.push(options);
    reporter.step(`validating ${options.config}`).done('1 API');
    reporter.warning('requirements.txt pins nothing');
    for (const r of results) reporter.plan(r.api, r.plan);
    reporter.step('waiting for iris to be ready (0/1)').done();
    return Promise.resolve(results);
  };
}

test('deploy: the plan and the endpoint with a curl line on stdout, the steps on stderr', async () => {
  const seen: { config: string; yes: boolean }[] = [];
  const f = testFactory({ local: { deploy: localDeploy([result()], seen) } });
  const { code, stdout, stderr } = await cortex(f, 'deploy', 'examples/iris');
  assert.equal(code, 0);
  assert.deepEqual(seen, [{ config: 'examples/iris', yes: false }]);
  assert.equal(
    stdout,
    `creating iris\niris is live at http://localhost:8888/iris\ncurl http://localhost:8888/iris ${CURL}\n`,
  );
  assert.equal(
    timeless(stderr),
    'validating examples/iris ... 1 API (N.Ns)\n' +
      'warning: requirements.txt pins nothing\n' +
      'waiting for iris to be ready (0/1) ... done (N.Ns)\n' +
      'status: cortex get iris   logs: cortex logs iris\n',
  );
});

test('deploy: up to date and updated APIs; the default config is the current folder', async () => {
  const results = [
    result({ action: 'up-to-date', plan: 'up to date' }),
    result({ api: 'b', endpoint: '/b', action: 'updated', plan: 'updating' }),
  ];
  const seen: { config: string; yes: boolean }[] = [];
  const f = testFactory({ local: { deploy: localDeploy(results, seen) } });
  const { code, stdout, stderr } = await cortex(f, 'deploy', '-y');
  assert.equal(code, 0);
  assert.deepEqual(seen, [{ config: '.', yes: true }]);
  assert.equal(
    stdout,
    'iris is up to date\nupdating b\n' +
      `iris serves at http://localhost:8888/iris\ncurl http://localhost:8888/iris ${CURL}\n` +
      `b now serves at http://localhost:8888/b\ncurl http://localhost:8888/b ${CURL}\n`,
  );
  assert.match(stderr, /\nstatus: cortex get   logs: cortex logs API\n$/);
});

test('deploy -o json: one object per API; a failed update exits 1 and says the old version serves', async () => {
  const failed = result({
    action: 'failed',
    plan: 'updating',
    reason: 'iris-2 exited with code 1',
    replica: 'iris-2',
    logTail: ['{"level":"error","message":"boom"}'],
  });
  const f = testFactory({ local: { deploy: localDeploy([failed]) } });
  const { code, stdout, stderr } = await cortex(f, 'deploy', '-o', 'json');
  assert.equal(code, 1);
  assert.deepEqual(JSON.parse(stdout), [
    {
      api: 'iris',
      action: 'failed',
      endpoint: '/iris',
      url: 'http://localhost:8888/iris',
      reason: 'iris-2 exited with code 1',
      logTail: ['{"level":"error","message":"boom"}'],
    },
  ]);
  assert.match(
    stderr,
    /\nerror: iris was not deployed: iris-2 exited with code 1\nthe running version of iris keeps serving\n$/,
  );

  const text = await cortex(testFactory({ local: { deploy: localDeploy([failed]) } }), 'deploy');
  assert.equal(text.code, 1);
  assert.equal(text.stdout, 'updating iris\n');
  assert.match(text.stderr, /\nlast lines logged by iris-2:\n {2}.*boom.*\nerror: iris was not deployed/);
});

test('deploy asks before packing a large folder only on a terminal', async () => {
  const answers: boolean[] = [];
  const asking: LocalSession['deploy'] = async (_options, reporter) => {
    answers.push(await reporter.confirm('the folder holds 900 MiB; deploy it?'));
    return [];
  };
  await cortex(testFactory({ local: { deploy: asking } }), 'deploy');
  const f = testFactory({ io: { tty: true, answers: ['y'] }, local: { deploy: asking } });
  await cortex(f, 'deploy');
  assert.deepEqual(answers, [false, true]);
  assert.deepEqual(f.io.questions, ['the folder holds 900 MiB; deploy it? [y/N] ']);
});

test('deploy: flags become the options object (commander is only the boundary)', async () => {
  const f = testFactory();
  const seen: DeployOptions[] = [];
  const cmd = deployCommand(f, (options) => void seen.push(options));
  await cmd.parseAsync(['dir', '-e', 'prod', '--no-wait', '--timeout', '2m', '--no-bundle', '-o', 'json'], {
    from: 'user',
  });
  assert.deepEqual(seen, [{ config: 'dir', env: 'prod', wait: false, timeout: '2m', bundle: false, output: 'json' }]);
  f.cleanup();
});

// ---- clusters

const applied = {
  projectDir: '/nonexistent',
  results: [{ api: 'iris', kind: 'RealtimeAPI', plan: 'creating' as const, generation: 1, endpoint: '/iris' }],
};

test('deploy -e CLUSTER --no-wait: applied, and how to follow it', async () => {
  const f = testFactory({ environments: [prodEnv], cluster: { deploy: () => Promise.resolve(applied) } });
  const out = await cortex(f, 'deploy', '-e', 'prod', '--no-wait');
  assert.deepEqual(out, {
    code: 0,
    stdout: 'iris created in prod (namespace ml); follow it with: cortex get iris -e prod -w\n',
    stderr: '',
  });
  const json = await cortex(
    testFactory({ environments: [prodEnv], cluster: { deploy: () => Promise.resolve(applied) } }),
    'deploy',
    '-e',
    'prod',
    '-o',
    'json',
  );
  assert.equal(json.code, 0, 'no terminal: no waiting');
  assert.deepEqual(JSON.parse(json.stdout), [
    {
      api: 'iris',
      kind: 'RealtimeAPI',
      action: 'created',
      environment: 'prod',
      namespace: 'ml',
      generation: 1,
      status: 'applied',
    },
  ]);
});

test('deploy -e CLUSTER --wait of a BatchAPI: not waited for (no replicas), and how to submit a job', async () => {
  const withJob = {
    projectDir: '/nonexistent',
    results: [
      ...applied.results,
      { api: 'nightly', kind: 'BatchAPI', plan: 'updating' as const, generation: 2, endpoint: '/nightly' },
    ],
  };
  const waited: string[] = [];
  const live = (o: WaitOptions): Promise<WaitOutcome> => {
    waited.push(o.name);
    return Promise.resolve({ kind: 'live', api: realtimeApi('iris') });
  };
  const f = testFactory({
    environments: [prodEnv],
    cluster: { deploy: () => Promise.resolve(withJob), waitForRollout: live },
  });
  const { code, stdout } = await cortex(f, 'deploy', '-e', 'prod', '--wait');
  assert.equal(code, 0);
  assert.deepEqual(waited, ['iris'], 'only the RealtimeAPI has a rollout');
  assert.equal(
    stdout,
    'iris created and live in prod: http://iris.ml.svc.cluster.local/ (inside the cluster)\n' +
      'BatchAPI nightly updated in prod (namespace ml); submit a job with: cortex submit nightly job.json -e prod\n',
  );
  const json = await cortex(
    testFactory({ environments: [prodEnv], cluster: { deploy: () => Promise.resolve(withJob), waitForRollout: live } }),
    'deploy',
    '-e',
    'prod',
    '--wait',
    '-o',
    'json',
  );
  const nightly = (JSON.parse(json.stdout) as { api: string }[]).find((r) => r.api === 'nightly');
  assert.deepEqual(nightly, {
    api: 'nightly',
    kind: 'BatchAPI',
    action: 'updated',
    environment: 'prod',
    namespace: 'ml',
    generation: 2,
    status: 'applied',
  });
});

test('deploy -e CLUSTER --wait: live with its in-cluster endpoint; not live exits 1', async () => {
  const live = (): Promise<WaitOutcome> => Promise.resolve({ kind: 'live', api: realtimeApi('iris') });
  const f = testFactory({
    environments: [prodEnv],
    cluster: { deploy: () => Promise.resolve(applied), waitForRollout: live },
  });
  const { code, stdout, stderr } = await cortex(f, 'deploy', '-e', 'prod', '--wait');
  assert.equal(code, 0);
  assert.equal(stdout, 'iris created and live in prod: http://iris.ml.svc.cluster.local/ (inside the cluster)\n');
  assert.match(
    timeless(stderr),
    /^waiting for iris \.\.\. done \(N\.Ns\)\ntry it: cortex predict iris -e prod sample\.json\n/,
  );
  assert.match(stderr, /\nor: {5}kubectl --context prod-admin -n ml port-forward service\/iris 8080:80 & {2}curl /);

  const timeout = (): Promise<WaitOutcome> =>
    Promise.resolve({ kind: 'timeout', api: undefined, reason: '0/1 replicas ready' });
  const slow = testFactory({
    environments: [prodEnv],
    cluster: { deploy: () => Promise.resolve(applied), waitForRollout: timeout },
  });
  const failed = await cortex(slow, 'deploy', '-e', 'prod', '--wait', '--timeout', '5m', '-o', 'json');
  assert.equal(failed.code, 1);
  assert.deepEqual(JSON.parse(failed.stdout)[0].status, 'timeout');
  assert.match(
    failed.stderr,
    /error: iris is not live: 0\/1 replicas ready \(gave up after 5m; it may still become live: cortex get iris -e prod -w\)\nthe new spec stays applied/,
  );
});

test('deploy -e CLUSTER: Ctrl-C while waiting stops the waiting, exit 130', async () => {
  const f = testFactory({
    environments: [prodEnv],
    cluster: {
      deploy: () => Promise.resolve(applied),
      waitForRollout: async (options: WaitOptions): Promise<WaitOutcome> => {
        options.progress('0/1 replicas ready');
        await options.interrupted;
        return { kind: 'interrupted' };
      },
    },
  });
  const running = cortex(f, 'deploy', '-e', 'prod', '--wait');
  setImmediate(() => f.interrupt());
  const { code, stdout, stderr } = await running;
  assert.equal(code, 130);
  assert.equal(stdout, '');
  assert.match(stderr, /\n {2}\| iris: 0\/1 replicas ready\n/);
  assert.match(stderr, /stopped waiting; the deploy goes on in the cluster: follow it with cortex get -e prod -w\n$/);
});

test('deploy -e CLUSTER --timeout that is not a duration exits 2 before connecting', async () => {
  const f = testFactory({ environments: [prodEnv] });
  const { code, stderr } = await cortex(f, 'deploy', '-e', 'prod', '--timeout', 'soon');
  assert.equal(code, 2);
  assert.equal(stderr, 'error: --timeout must be a duration such as 90s, 10m or 1h, got "soon"\n');
  assert.deepEqual(f.connected, []);
});
