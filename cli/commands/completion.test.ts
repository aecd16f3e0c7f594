import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execa } from 'execa';
import { buildProgram } from '../index.ts';
import { writeState } from '../local/state.ts';
import { bashScript } from './completion.ts';
import { cortex, testFactory } from './testing.ts';

test('the bash completion knows every visible command, their options, and which take an API name', () => {
  const script = bashScript(buildProgram());
  for (const name of ['deploy', 'get', 'logs', 'predict', 'refresh', 'delete', 'env', 'version', 'completion'])
    assert.match(script, new RegExp(`\\b${name}\\b`));
  assert.doesNotMatch(script, /__supervisor/);
  assert.match(script, /logs\)\n\s+opts="-e --env -f --follow --tail --pod --help"; apis=1/);
  assert.match(
    script,
    /env:configure\) opts="-p --port --host --context -n --namespace --kubeconfig --no-check --help"/,
  );
});

test('the script is valid bash and completes commands', async () => {
  const script = bashScript(buildProgram());
  const probe = [
    script,
    'COMP_WORDS=(cortex de); COMP_CWORD=1; _cortex_complete; echo "${COMPREPLY[@]}"',
    'COMP_WORDS=(cortex env c); COMP_CWORD=2; _cortex_complete; echo "${COMPREPLY[@]}"',
  ].join('\n');
  const { stdout } = await execa('bash', ['-c', probe]);
  assert.deepEqual(stdout.split('\n'), ['deploy delete', 'configure']);
});

test('completion bash|zsh prints the script on stdout; another shell is a usage error (2)', async () => {
  const bash = await cortex(testFactory(), 'completion', 'bash');
  assert.deepEqual(bash, { code: 0, stdout: bashScript(buildProgram()), stderr: '' });
  const zsh = await cortex(testFactory(), 'completion', 'zsh');
  assert.equal(zsh.code, 0);
  assert.ok(zsh.stdout.startsWith('#compdef cortex\nautoload -U +X bashcompinit && bashcompinit\n# cortex shell'));
  assert.deepEqual(await cortex(testFactory(), 'completion', 'fish'), {
    code: 2,
    stdout: '',
    stderr: 'error: shell must be bash or zsh, got "fish"\n',
  });
  const missing = await cortex(testFactory(), 'completion');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing required argument 'shell'/);
});

test('__complete-apis lists the APIs of state.json, one a line (nothing when there are none)', async () => {
  assert.deepEqual(await cortex(testFactory(), '__complete-apis'), { code: 0, stdout: '', stderr: '' });
  const f = testFactory();
  const createdAt = new Date().toISOString();
  writeState(f.layoutOf, { apis: { a: { name: 'a', createdAt }, b: { name: 'b', createdAt } } });
  assert.deepEqual(await cortex(f, '__complete-apis'), { code: 0, stdout: 'a\nb\n', stderr: '' });
});
