import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cortex, testFactory } from './testing.ts';

test('__supervisor runs the supervisor through the factory and prints nothing', async () => {
  let ran = 0;
  const f = testFactory({ runSupervisor: () => Promise.resolve(void ran++) });
  assert.deepEqual(await cortex(f, '__supervisor'), { code: 0, stdout: '', stderr: '' });
  assert.equal(ran, 1);
});
