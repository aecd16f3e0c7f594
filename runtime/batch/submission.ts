// A job submission in Cortex's JSON (docs/batch.md): workers, one of item_list {items, batch_size},
// file_path_lister or delimited_files {s3_paths, includes, excludes, batch_size}, config, timeout,
// sqs_dead_letter_queue.max_receive_count; checked into a BatchJobSpec, with an
// error naming the field and the fix. The same JSON comes from `cortex submit`, the HTTP endpoint
// and (camelCase) a BatchJob resource.
import {
  JOB_LIMITS,
  isPlainObject,
  type BatchJobSpec,
  type BucketLister,
  type TaskJobSpec,
} from '../../operator/api/v1alpha1/index.ts';
import { BucketItemsError, splitBucketPath } from './bucket-items.ts';
import { GlobError, compileGlob } from './glob.ts';

export class SubmissionError extends Error {
  readonly field: string;
  readonly fix: string;
  constructor(field: string, message: string, fix: string) {
    super(`${field}: ${message}; fix: ${fix}`);
    this.field = field;
    this.fix = fix;
  }
}

const DEFAULT_MAX_RECEIVE_COUNT = 3;

function int(value: unknown, field: string, min: number, max: number, example: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new SubmissionError(
      field,
      `must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)})`,
      `write e.g. "${field.split('.').at(-1)}": ${example}`,
    );
  }
  return value;
}

function common(body: Record<string, unknown>, known: string[]) {
  for (const key of Object.keys(body)) {
    if (!known.includes(key)) {
      throw new SubmissionError(
        key,
        'is not a field of a job submission',
        `remove it; the fields are ${known.join(', ')}`,
      );
    }
  }
  const config = body.config ?? {};
  if (!isPlainObject(config))
    throw new SubmissionError('config', 'must be an object', 'write "config": {"key": value}');
  const timeout =
    body.timeout === undefined || body.timeout === null
      ? undefined
      : int(body.timeout, 'timeout', 1, JOB_LIMITS.timeoutSeconds, '3600');
  return { config, ...(timeout !== undefined ? { timeout } : {}) };
}

const SOURCES = ['item_list', 'file_path_lister', 'delimited_files'] as const;
const LISTER_EXAMPLE = '{"s3_paths": ["s3://bucket/prefix/"], "includes": ["**.json"], "batch_size": 10}';

function strings(value: unknown, field: string, max: number, fix: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
    throw new SubmissionError(field, `must be a list of strings (got ${JSON.stringify(value)})`, fix);
  }
  if (value.length > max) throw new SubmissionError(field, `holds ${value.length}, at most ${max}`, fix);
  return value as string[];
}

/** file_path_lister or delimited_files: the buckets' paths, the patterns, the batch size. */
function bucketLister(value: unknown, key: string): BucketLister {
  if (!isPlainObject(value)) throw new SubmissionError(key, 'must be an object', `send "${key}": ${LISTER_EXAMPLE}`);
  const known = ['s3_paths', 'includes', 'excludes', 'batch_size'];
  const extra = Object.keys(value).find((k) => !known.includes(k));
  if (extra !== undefined) {
    throw new SubmissionError(
      `${key}.${extra}`,
      'is not a field of it',
      `remove it; the fields are ${known.join(', ')}`,
    );
  }
  const paths = strings(value.s3_paths, `${key}.s3_paths`, 1000, 'list s3://bucket/prefix or gs://bucket/prefix');
  if (paths.length === 0) {
    throw new SubmissionError(`${key}.s3_paths`, 'must list at least one path', 'list s3://bucket/prefix');
  }
  paths.forEach((p, i) => {
    try {
      splitBucketPath(p);
    } catch (error) {
      if (!(error instanceof BucketItemsError)) throw error;
      throw new SubmissionError(
        `${key}.s3_paths[${i}]`,
        `${JSON.stringify(p)} is not s3://bucket/prefix or gs://bucket/prefix`,
        'write the bucket (3-63 lowercase letters, digits, dots, hyphens), then the key prefix',
      );
    }
  });
  const patterns = (which: 'includes' | 'excludes') => {
    if (value[which] === undefined || value[which] === null) return undefined;
    const list = strings(value[which], `${key}.${which}`, 100, 'list glob patterns, e.g. ["**.jpg"]');
    list.forEach((pattern, i) => {
      try {
        compileGlob(pattern);
      } catch (error) {
        if (!(error instanceof GlobError)) throw error;
        throw new SubmissionError(
          `${key}.${which}[${i}]`,
          `${JSON.stringify(pattern)}: ${error.message}`,
          'fix the glob',
        );
      }
    });
    return list;
  };
  const includes = patterns('includes');
  const excludes = patterns('excludes');
  return {
    s3Paths: paths,
    ...(includes ? { includes } : {}),
    ...(excludes ? { excludes } : {}),
    batchSize: int(value.batch_size, `${key}.batch_size`, 1, JOB_LIMITS.batchSize, '10'),
  };
}

/** The job's items: exactly one of item_list, file_path_lister, delimited_files. */
function dataSource(
  body: Record<string, unknown>,
): Pick<BatchJobSpec, 'itemList' | 'filePathLister' | 'delimitedFiles'> {
  const given = SOURCES.filter((k) => body[k] !== undefined && body[k] !== null);
  if (given.length > 1) {
    throw new SubmissionError(
      given[1],
      `conflicts with ${given[0]}: a job's items come from one of ${SOURCES.join(', ')}`,
      `keep one of ${given.join(', ')}`,
    );
  }
  if (given[0] === 'file_path_lister') return { filePathLister: bucketLister(body.file_path_lister, given[0]) };
  if (given[0] === 'delimited_files') return { delimitedFiles: bucketLister(body.delimited_files, given[0]) };
  const list = body.item_list;
  if (!isPlainObject(list)) {
    throw new SubmissionError(
      'item_list',
      list === undefined || list === null
        ? `is required: the job's items are one of ${SOURCES.join(', ')}`
        : 'must be an object',
      'send "item_list": {"items": [...], "batch_size": 10}, or file_path_lister / delimited_files: ' + LISTER_EXAMPLE,
    );
  }
  if (!Array.isArray(list.items) || list.items.length === 0) {
    throw new SubmissionError('item_list.items', 'must be a list of at least one item', 'list the items to handle');
  }
  const batchSize = int(list.batch_size, 'item_list.batch_size', 1, JOB_LIMITS.batchSize, '10');
  return { itemList: { items: list.items as unknown[], batchSize } };
}

/** A BatchAPI job submission (Cortex's snake_case JSON) as the BatchJob spec. */
export function parseBatchSubmission(api: string, body: unknown): BatchJobSpec {
  if (!isPlainObject(body)) {
    throw new SubmissionError('(body)', 'must be a JSON object', 'send {"workers": 1, "item_list": {...}}');
  }
  const base = common(body, ['workers', ...SOURCES, 'config', 'timeout', 'sqs_dead_letter_queue']);
  const workers = int(body.workers, 'workers', 1, JOB_LIMITS.workers, '1');
  const data = dataSource(body);
  const dlq = body.sqs_dead_letter_queue;
  let maxReceiveCount = DEFAULT_MAX_RECEIVE_COUNT;
  if (dlq !== undefined && dlq !== null) {
    if (!isPlainObject(dlq)) {
      throw new SubmissionError('sqs_dead_letter_queue', 'must be an object', 'send {"max_receive_count": 3}');
    }
    const extra = Object.keys(dlq).find((k) => k !== 'max_receive_count');
    if (extra !== undefined) {
      throw new SubmissionError(
        `sqs_dead_letter_queue.${extra}`,
        'is not used: batches that fail every try are recorded in the job (cortex get API JOB_ID)',
        'remove it; keep max_receive_count',
      );
    }
    maxReceiveCount = int(
      dlq.max_receive_count,
      'sqs_dead_letter_queue.max_receive_count',
      1,
      JOB_LIMITS.maxReceiveCount,
      '3',
    );
  }
  return { api, workers, ...data, maxReceiveCount, ...base };
}

/** A TaskAPI job submission ({config, timeout}) as the TaskJob spec. */
export function parseTaskSubmission(api: string, body: unknown): TaskJobSpec {
  if (body === undefined || body === null) return { api, config: {} };
  if (!isPlainObject(body)) throw new SubmissionError('(body)', 'must be a JSON object', 'send {"config": {...}}');
  return { api, ...common(body, ['config', 'timeout']) };
}
