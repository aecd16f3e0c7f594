import assert from 'node:assert/strict';
import { test } from 'node:test';
import { logContainer } from './logs.ts';

test("cortex logs reads the runtime's container, or a pod API's first container as written", () => {
  assert.equal(logContainer({ spec: { predictor: { type: 'python', path: 'p.py' } } }), 'api');
  const pod = {
    containers: [
      { name: 'server', image: 'i' },
      { name: 'cache', image: 'j' },
    ],
  };
  assert.equal(logContainer({ spec: { pod } }), 'server');
});
