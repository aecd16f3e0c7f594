import assert from 'node:assert/strict';
import { test } from 'node:test';
import { preinstalledHint, withPreinstalledHint } from './preinstalled.ts';

test('a module Cortex images pre-installed names the distribution to add to requirements.txt', () => {
  assert.equal(
    withPreinstalledHint("ModuleNotFoundError: No module named 'sklearn'"),
    "ModuleNotFoundError: No module named 'sklearn' (Cortex's images pre-installed scikit-learn; " +
      'here it must be listed: add scikit-learn to requirements.txt)',
  );
  assert.match(preinstalledHint("ModuleNotFoundError: No module named 'cv2.dnn'") ?? '', /add opencv-python to/);
  assert.match(preinstalledHint("ModuleNotFoundError: No module named 'PIL'") ?? '', /add Pillow to/);
});

test('other modules and other errors are left as they are', () => {
  assert.equal(preinstalledHint("ModuleNotFoundError: No module named 'my_helpers'"), undefined);
  assert.equal(preinstalledHint("ModuleNotFoundError: No module named 'toString'"), undefined);
  assert.equal(withPreinstalledHint('ValueError: bad model'), 'ValueError: bad model');
});
