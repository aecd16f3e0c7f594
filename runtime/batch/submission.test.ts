// Cortex's job submission JSON checked into BatchJob / TaskJob specs, each refusal naming the
// field and the fix.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SubmissionError, parseBatchSubmission, parseTaskSubmission } from './submission.ts';

const refused = (fn: () => unknown, field: string, message: RegExp) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SubmissionError, String(e));
    assert.equal(e.field, field);
    assert.match(e.message, message);
    assert.ok(e.fix.length > 0);
    return true;
  });

test("Cortex's batch submission becomes the BatchJob spec, max_receive_count defaulting to 3", () => {
  const spec = parseBatchSubmission('sum', {
    workers: 2,
    item_list: { items: [1, 2, 3], batch_size: 2 },
    config: { k: 'v' },
    timeout: 60,
  });
  assert.deepEqual(spec, {
    api: 'sum',
    workers: 2,
    itemList: { items: [1, 2, 3], batchSize: 2 },
    maxReceiveCount: 3,
    config: { k: 'v' },
    timeout: 60,
  });
  const dlq = parseBatchSubmission('sum', {
    workers: 1,
    item_list: { items: [1], batch_size: 1 },
    sqs_dead_letter_queue: { max_receive_count: 5 },
  });
  assert.equal(dlq.maxReceiveCount, 5);
  assert.deepEqual(dlq.config, {});
});

test('a bad batch submission names the field and the fix', () => {
  refused(() => parseBatchSubmission('a', [1]), '(body)', /must be a JSON object/);
  refused(() => parseBatchSubmission('a', { item_list: { items: [1], batch_size: 1 } }), 'workers', /got undefined/);
  refused(() => parseBatchSubmission('a', { workers: 1 }), 'item_list', /is required/);
  refused(
    () => parseBatchSubmission('a', { workers: 1, item_list: { items: [], batch_size: 1 } }),
    'item_list.items',
    /at least one item/,
  );
  refused(
    () => parseBatchSubmission('a', { workers: 1, item_list: { items: [1], batch_size: 0.5 } }),
    'item_list.batch_size',
    /whole number/,
  );
  refused(
    () => parseBatchSubmission('a', { workers: 1, delimited_files: {}, item_list: { items: [1], batch_size: 1 } }),
    'delimited_files',
    /not supported yet/,
  );
  refused(
    () =>
      parseBatchSubmission('a', {
        workers: 1,
        item_list: { items: [1], batch_size: 1 },
        sqs_dead_letter_queue: { arn: 'arn:aws:sqs:x', max_receive_count: 2 },
      }),
    'sqs_dead_letter_queue.arn',
    /recorded in the job/,
  );
  refused(
    () => parseBatchSubmission('a', { workers: 1, item_list: { items: [1], batch_size: 1 }, timeout: -1 }),
    'timeout',
    /whole number from 1/,
  );
});

test('a task submission is config and timeout, both optional', () => {
  assert.deepEqual(parseTaskSubmission('t', undefined), { api: 't', config: {} });
  assert.deepEqual(parseTaskSubmission('t', { config: { a: 1 }, timeout: 5 }), {
    api: 't',
    config: { a: 1 },
    timeout: 5,
  });
  refused(() => parseTaskSubmission('t', { workers: 2 }), 'workers', /not a field of a job submission/);
  refused(() => parseTaskSubmission('t', { config: 'x' }), 'config', /must be an object/);
});
