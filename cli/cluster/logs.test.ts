import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JOB_DONE_WORDS, JOB_STATUS_WORDS } from '../../operator/api/v1alpha1/index.ts';
import { jobFollowStep, logContainer } from './logs.ts';

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

test('following a job: it goes on while the job runs, waits for pods while pending, ends once over and drained', () => {
  // pending without pods: waits for them (the CLI says so once) rather than ending
  assert.deepEqual(jobFollowStep('j1', 'pending', 0, 0), { end: false, waitingForPods: true });
  assert.deepEqual(jobFollowStep('j1', 'running', 2, 2), { end: false, waitingForPods: false });
  // a running job whose streams all ended (a container restarting) is not over
  assert.deepEqual(jobFollowStep('j1', 'running', 1, 0), { end: false, waitingForPods: false });
  // over, but a pod's stream still has lines to give: drained first
  assert.deepEqual(jobFollowStep('j1', 'succeeded', 1, 1), { end: false, waitingForPods: false });
  for (const word of JOB_DONE_WORDS) {
    assert.deepEqual(jobFollowStep('j1', word, 1, 0), { end: true, line: `job j1 ended: ${word}` });
    assert.deepEqual(jobFollowStep('j1', word, 0, 0), { end: true, line: `job j1 ended: ${word}` });
  }
  for (const word of JOB_STATUS_WORDS.filter((w) => !JOB_DONE_WORDS.includes(w))) {
    assert.equal(jobFollowStep('j1', word, 1, 0).end, false, word);
  }
  assert.deepEqual(jobFollowStep('j1', undefined, 0, 0), { end: true, line: 'job j1 was deleted' });
});
