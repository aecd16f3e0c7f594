import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Chalk } from 'chalk';
import { CliError, ExitCode } from '../errors.ts';
import { readEnvConfig } from '../environments.ts';
import { table } from '../output.ts';
import { cortex, cortexIn, fakeSupervisor, prodEnv, testFactory } from './testing.ts';

const plain = new Chalk({ level: 0 });

test('env list: a table of the environments, the default marked; -o json gives every field', async () => {
  assert.deepEqual(await cortex(testFactory(), 'env', 'list'), {
    code: 0,
    stdout: table(
      ['env', 'provider', 'where', ''],
      [['local', 'local', 'http://localhost:8888 (listening on 127.0.0.1:8888)', 'default']],
      plain,
    ),
    stderr: '',
  });
  const f = testFactory({ environments: [prodEnv], defaultEnvironment: 'prod', io: { tty: true } });
  const colored = await cortex(f, 'env', 'list');
  assert.match(colored.stdout, /^\x1b\[1menv {5}provider {5}where\x1b\[22m\n/);
  assert.match(
    colored.stdout,
    /\nprod {4}kubernetes {3}context prod-admin, namespace ml +\x1b\[32mdefault\x1b\[39m\n$/,
  );

  const json = await cortex(testFactory({ environments: [prodEnv] }), 'env', 'list', '-o', 'json');
  assert.equal(json.code, 0);
  assert.deepEqual(JSON.parse(json.stdout), [
    { name: 'local', provider: 'local', port: 8888, host: '127.0.0.1', url: 'http://localhost:8888', default: true },
    { name: 'prod', provider: 'kubernetes', context: 'prod-admin', namespace: 'ml', default: false },
  ]);
  const bad = await cortex(testFactory(), 'env', 'list', '-o', 'yaml');
  assert.deepEqual(bad, { code: 2, stdout: '', stderr: 'error: -o/--output must be pretty or json, got "yaml"\n' });
});

test('env configure NAME: checks the cluster, saves it, and says how to use it', async () => {
  const f = testFactory({ cluster: { check: () => Promise.resolve() } });
  const home = f.layoutOf;
  const result = await cortexIn(f, 'env', 'configure', 'prod', '--context', 'prod-admin', '-n', 'ml');
  assert.deepEqual(result, {
    code: 0,
    stdout: 'configured prod: context prod-admin, namespace ml\n',
    stderr: 'use it with -e prod, or make it the default: cortex env default prod\n',
  });
  assert.deepEqual(f.connected, ['prod']);
  assert.deepEqual(readEnvConfig(home).environments[1], prodEnv);
  f.cleanup();

  const current = testFactory({ kubeContext: () => 'kind-kind' });
  assert.deepEqual(await cortex(current, 'env', 'configure', 'staging', '--no-check'), {
    code: 0,
    stdout: 'configured staging: context kind-kind (the current one, when a command runs), namespace default\n',
    stderr: 'use it with -e staging, or make it the default: cortex env default staging\n',
  });
  assert.deepEqual(current.connected, [], '--no-check does not talk to the cluster');
});

test('env configure: a cluster that does not answer is not saved (1); bad flags are usage errors (2)', async () => {
  const f = testFactory({
    cluster: { check: () => Promise.reject(new CliError('environment prod: connection refused', ExitCode.Failed)) },
  });
  const refused = await cortexIn(f, 'env', 'configure', 'prod');
  assert.deepEqual(refused, {
    code: 1,
    stdout: '',
    stderr: 'error: environment prod: connection refused\n(nothing was saved; --no-check saves anyway)\n',
  });
  assert.deepEqual(
    readEnvConfig(f.layoutOf).environments.map((e) => e.name),
    ['local'],
  );
  f.cleanup();

  const usage = async (...args: string[]) => {
    const r = await cortex(testFactory(), 'env', 'configure', ...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stdout, '');
    return r.stderr;
  };
  assert.match(await usage('Prod'), /environment names are lowercase letters/);
  assert.match(await usage('prod', '--port', '9000'), /--port and --host are for the local environment/);
  assert.match(await usage('local', '--context', 'x'), /are for cluster environments/);
  assert.match(await usage('--port', '99999'), /--port must be a whole number from 1 to 65535, got "99999"/);
});

test('env configure local: moves the gateway, and tells a running supervisor to reload', async () => {
  assert.deepEqual(await cortex(testFactory(), 'env', 'configure', 'local', '--port', '8890', '--host', '0.0.0.0'), {
    code: 0,
    stdout: 'configured local: APIs are served at http://localhost:8890/<endpoint>\n',
    stderr: '',
  });
  const requests: string[] = [];
  const supervisor = fakeSupervisor([], {
    request: <T>(method: string, path: string) => {
      requests.push(`${method} ${path}`);
      const body: unknown = { listening: false, error: 'port 8890 is in use', port: 8890 };
      return Promise.resolve({ status: 200, body: body as T });
    },
  });
  const f = testFactory({ local: { findSupervisor: () => Promise.resolve(supervisor) } });
  assert.deepEqual(await cortex(f, 'env', 'configure', '--port', '8890'), {
    code: 1,
    stdout: '',
    stderr: 'error: saved, but the running APIs could not move: port 8890 is in use\n',
  });
  assert.deepEqual(requests, ['POST /reload']);
});

test('env default and env delete: print or change the default, forget a cluster; unknown names exit 3', async () => {
  const f = testFactory({ environments: [prodEnv] });
  assert.deepEqual(await cortexIn(f, 'env', 'default'), { code: 0, stdout: 'local\n', stderr: '' });
  assert.equal((await cortexIn(f, 'env', 'default', 'prod')).stderr, 'the default environment is now prod\n');
  assert.equal(readEnvConfig(f.layoutOf).defaultEnvironment, 'prod');
  const deleted = await cortexIn(f, 'env', 'delete', 'prod');
  assert.equal(deleted.code, 0);
  assert.match(deleted.stderr, /deleted environment prod; the default environment is local\n$/);
  assert.deepEqual(readEnvConfig(f.layoutOf), {
    defaultEnvironment: 'local',
    environments: [{ name: 'local', provider: 'local', port: 8888, host: '127.0.0.1' }],
  });
  f.cleanup();

  const unknown = await cortex(testFactory(), 'env', 'default', 'nope');
  assert.equal(unknown.code, 3);
  assert.match(unknown.stderr, /^error: no environment named "nope"; environments: local \(add a cluster with/);
  assert.equal((await cortex(testFactory(), 'env', 'delete', 'nope')).code, 3);
  assert.deepEqual(await cortex(testFactory(), 'env', 'delete', 'local'), {
    code: 2,
    stdout: '',
    stderr: 'error: the local environment cannot be deleted (delete its APIs with cortex delete)\n',
  });
});
