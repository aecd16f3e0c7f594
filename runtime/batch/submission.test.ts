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
  refused(() => parseBatchSubmission('a', { workers: 1 }), 'item_list', /is required: .*file_path_lister/);
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
    /conflicts with item_list: a job's items come from one of item_list, file_path_lister, delimited_files/,
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

test('file_path_lister and delimited_files become filePathLister and delimitedFiles', () => {
  const lister = { s3_paths: ['s3://images/train/', 'gs://more-images'], includes: ['**.jpg'], batch_size: 8 };
  assert.deepEqual(parseBatchSubmission('sum', { workers: 1, file_path_lister: lister }), {
    api: 'sum',
    workers: 1,
    filePathLister: { s3Paths: ['s3://images/train/', 'gs://more-images'], includes: ['**.jpg'], batchSize: 8 },
    maxReceiveCount: 3,
    config: {},
  });
  const files = { s3_paths: ['s3://data/part-'], excludes: ['**.tmp', '**/_*'], batch_size: 100 };
  assert.deepEqual(parseBatchSubmission('sum', { workers: 3, delimited_files: files }).delimitedFiles, {
    s3Paths: ['s3://data/part-'],
    excludes: ['**.tmp', '**/_*'],
    batchSize: 100,
  });
});

test('a bad file_path_lister or delimited_files names the field and the fix', () => {
  const job =
    (lister: unknown, key = 'file_path_lister') =>
    () =>
      parseBatchSubmission('a', { workers: 1, [key]: lister });
  refused(job([]), 'file_path_lister', /must be an object/);
  refused(job({ s3_paths: [], batch_size: 1 }), 'file_path_lister.s3_paths', /at least one path/);
  refused(job({ s3_paths: 's3://b/x', batch_size: 1 }), 'file_path_lister.s3_paths', /list of strings/);
  refused(
    job({ s3_paths: ['s3://ok-bucket/a', 'https://host/x'], batch_size: 1 }, 'delimited_files'),
    'delimited_files.s3_paths[1]',
    /not s3:\/\/bucket\/prefix or gs:\/\/bucket\/prefix/,
  );
  refused(job({ s3_paths: ['s3://Upper/x'], batch_size: 1 }), 'file_path_lister.s3_paths[0]', /"s3:\/\/Upper\/x"/);
  refused(
    job({ s3_paths: ['s3://bucket/x'], includes: ['**.json', '[abc'], batch_size: 1 }),
    'file_path_lister.includes[1]',
    /"\[abc": \[ at 1 is not closed/,
  );
  refused(
    job({ s3_paths: ['s3://bucket/x'], excludes: ['{a,b'], batch_size: 1 }),
    'file_path_lister.excludes[0]',
    /not closed by \}/,
  );
  refused(job({ s3_paths: ['s3://bucket/x'], batch_size: 0 }), 'file_path_lister.batch_size', /whole number/);
  refused(
    job({ s3_paths: ['s3://bucket/x'], batch_size: 1, max_results: 3 }),
    'file_path_lister.max_results',
    /not a field/,
  );
  refused(
    () =>
      parseBatchSubmission('a', {
        workers: 1,
        file_path_lister: { s3_paths: ['s3://bucket/x'], batch_size: 1 },
        delimited_files: { s3_paths: ['s3://bucket/x'], batch_size: 1 },
      }),
    'delimited_files',
    /conflicts with file_path_lister/,
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
