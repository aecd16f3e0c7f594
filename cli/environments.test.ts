import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CliError } from './errors.ts';
import { baseUrl, readEnvConfig, resolveEnvironment, writeEnvConfig, type LocalEnvironment } from './environments.ts';
import { layout } from './local/paths.ts';

test('without cli.yaml there is one environment, local on port 8888; configured values round-trip', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'cortex-env-test-'));
  try {
    const l = layout(home);
    const config = readEnvConfig(l);
    assert.deepEqual(config, {
      defaultEnvironment: 'local',
      environments: [{ name: 'local', provider: 'local', port: 8888, host: '127.0.0.1' }],
    });
    const local = config.environments[0] as LocalEnvironment;
    assert.equal(baseUrl(local), 'http://localhost:8888');
    local.port = 9000;
    writeEnvConfig(l, config);
    assert.equal((resolveEnvironment(l, undefined) as LocalEnvironment).port, 9000);
    assert.throws(
      () => resolveEnvironment(l, 'aws'),
      (e: unknown) => e instanceof CliError && e.exitCode === 3 && /no environment named "aws"/.test(e.message),
    );
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('cluster environments keep their context, namespace and kubeconfig, and can be the default', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'cortex-env-test-'));
  try {
    const l = layout(home);
    writeEnvConfig(l, {
      defaultEnvironment: 'prod',
      environments: [
        { name: 'local', provider: 'local', port: 8888, host: '127.0.0.1' },
        {
          name: 'prod',
          provider: 'kubernetes',
          context: 'prod-admin',
          namespace: 'ml',
          kubeconfig: '/etc/kube/prod.yaml',
        },
        { name: 'dev', provider: 'kubernetes', namespace: 'default' },
      ],
    });
    const text = readFileSync(l.config, 'utf8');
    assert.match(text, /default_environment: prod/);
    assert.deepEqual(resolveEnvironment(l, undefined), {
      name: 'prod',
      provider: 'kubernetes',
      context: 'prod-admin',
      namespace: 'ml',
      kubeconfig: '/etc/kube/prod.yaml',
    });
    assert.deepEqual(resolveEnvironment(l, 'dev'), { name: 'dev', provider: 'kubernetes', namespace: 'default' });
    assert.equal(resolveEnvironment(l, 'local').provider, 'local');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('an environment with an unknown provider or a bad name is refused with the file named', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'cortex-env-test-'));
  try {
    const l = layout(home);
    writeFileSync(l.config, 'environments:\n  - name: prod\n    provider: aws\n');
    assert.throws(
      () => readEnvConfig(l),
      (e: unknown) =>
        e instanceof CliError &&
        e.exitCode === 2 &&
        e.message.includes('cli.yaml: environment prod: provider must be one of local, kubernetes, got aws'),
    );
    writeFileSync(l.config, 'environments:\n  - name: Prod_EU\n    provider: kubernetes\n');
    assert.throws(
      () => readEnvConfig(l),
      (e: unknown) => e instanceof CliError && /lowercase letters, digits and dashes/.test(e.message),
    );
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('a broken cli.yaml is named with what is wrong', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'cortex-env-test-'));
  try {
    const l = layout(home);
    writeFileSync(l.config, 'environments:\n  - name: local\n    port: eighty\n');
    assert.throws(
      () => readEnvConfig(l),
      (e: unknown) =>
        e instanceof CliError &&
        e.exitCode === 2 &&
        e.message.includes('cli.yaml: environment local: port must be a whole number'),
    );
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('a deep CORTEX_HOME gets its control socket in the temp folder (unix socket paths are short)', () => {
  const deep = path.join(tmpdir(), 'x'.repeat(120));
  assert.ok(layout(deep).socket.length < 100);
  assert.equal(layout('/tmp/h').socket, '/tmp/h/supervisor.sock');
});

test('cortex env configure makes CORTEX_HOME 0700 and cli.yaml 0600 whatever the umask', () => {
  const parent = mkdtempSync(path.join(tmpdir(), 'cortex-env-test-'));
  const previous = process.umask(0);
  try {
    const l = layout(path.join(parent, 'home'));
    writeEnvConfig(l, readEnvConfig(l));
    assert.equal(statSync(path.dirname(l.config)).mode & 0o777, 0o700);
    assert.equal(statSync(l.config).mode & 0o777, 0o600);
  } finally {
    process.umask(previous);
    rmSync(parent, { recursive: true, force: true });
  }
});
