import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execa } from 'execa';
import { buildProgram } from '../index.ts';
import { bashScript } from './completion.ts';

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
  const probe = `${script}\nCOMP_WORDS=(cortex de); COMP_CWORD=1; _cortex_complete; echo "\${COMPREPLY[@]}"\nCOMP_WORDS=(cortex env c); COMP_CWORD=2; _cortex_complete; echo "\${COMPREPLY[@]}"`;
  const { stdout } = await execa('bash', ['-c', probe]);
  assert.deepEqual(stdout.split('\n'), ['deploy delete', 'configure']);
});
