import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reloadFailures } from './reload-failures.ts';

const trace = (e: string) => `Traceback (most recent call last):\n  File "predictor.py", line 3, in load_model\n${e}`;

test('a version that failed to load is reported with its exception until a later one of that model loads', () => {
  const failedA = `model 'a' version 3 failed to load from /m/a/3: ${trace('ValueError: this model is broken')}`;
  assert.deepEqual(reloadFailures(["loaded model 'a' version 2 from /m/a/2 in 0.01 s", failedA]), [
    "model 'a' version 3 failed to load from /m/a/3: ValueError: this model is broken",
  ]);
  assert.deepEqual(reloadFailures([failedA, "model 'b' version 4 loaded and now served"]).length, 1, 'b is not a');
  assert.deepEqual(reloadFailures([failedA, "model 'a' version 4 loaded and now served"]), []);
});

test('a new version that could not be downloaded is reported until one is on disk', () => {
  const failed =
    'predictor.models.path: the new version of s3://live/m could not be downloaded, the current one keeps serving: ' +
    's3://live/m: access denied (HTTP 403); fix: check the credentials';
  assert.deepEqual(reloadFailures([failed]), [failed]);
  assert.deepEqual(
    reloadFailures([failed, 's3://live/m: the new version is on disk; the workers load it on their next look']),
    [],
  );
  const single = `the model failed to load from /live/0/m: ${trace('OSError: truncated')}`;
  assert.deepEqual(reloadFailures([failed, single]), [
    failed,
    'the model failed to load from /live/0/m: OSError: truncated',
  ]);
});
