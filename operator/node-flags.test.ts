import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { operatorNodeFlags } from './node-flags.ts';

test("the cortex-operator executable starts node with the operator's heap settings", () => {
  const shebang = readFileSync(new URL('./bin/cortex-operator.ts', import.meta.url), 'utf8').split('\n')[0];
  assert.equal(shebang, `#!/usr/bin/env -S node ${operatorNodeFlags.join(' ')}`);
});
