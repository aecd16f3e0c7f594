import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unsnap } from './api-status.ts';
import type { VersionRecord } from './state.ts';

test("a replica's error names the project's files, not the snapshot's (as cortex deploy's error did)", () => {
  const version = { snapshot: '/home/u/.cortex/snapshots/ab12', source: '/home/u/iris' } as VersionRecord;
  assert.equal(
    unsnap(
      'predictor failed to initialise: /home/u/.cortex/snapshots/ab12/predictor.py does not define a class',
      version,
    ),
    'predictor failed to initialise: /home/u/iris/predictor.py does not define a class',
  );
  assert.equal(unsnap('ValueError: bad', version), 'ValueError: bad');
});
