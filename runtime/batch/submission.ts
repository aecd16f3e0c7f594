// A job submission in Cortex's JSON (docs/batch.md): workers, item_list {items, batch_size},
// config, timeout, sqs_dead_letter_queue.max_receive_count; checked into a BatchJobSpec, with an
// error naming the field and the fix. The same JSON comes from `cortex submit`, the HTTP endpoint
// and (camelCase) a BatchJob resource.
import { JOB_LIMITS, isPlainObject, type BatchJobSpec, type TaskJobSpec } from '../../operator/api/v1alpha1/index.ts';

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
      const why =
        key === 'delimited_files' || key === 'file_path_lister'
          ? 'is not supported yet (items from storage files)'
          : 'is not a field of a job submission';
      throw new SubmissionError(key, why, `remove it; the fields are ${known.join(', ')}`);
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

/** A BatchAPI job submission (Cortex's snake_case JSON) as the BatchJob spec. */
export function parseBatchSubmission(api: string, body: unknown): BatchJobSpec {
  if (!isPlainObject(body)) {
    throw new SubmissionError('(body)', 'must be a JSON object', 'send {"workers": 1, "item_list": {...}}');
  }
  const base = common(body, ['workers', 'item_list', 'config', 'timeout', 'sqs_dead_letter_queue']);
  const workers = int(body.workers, 'workers', 1, JOB_LIMITS.workers, '1');
  const list = body.item_list;
  if (!isPlainObject(list)) {
    throw new SubmissionError(
      'item_list',
      list === undefined ? 'is required' : 'must be an object',
      'send "item_list": {"items": [...], "batch_size": 10}',
    );
  }
  if (!Array.isArray(list.items) || list.items.length === 0) {
    throw new SubmissionError('item_list.items', 'must be a list of at least one item', 'list the items to handle');
  }
  const batchSize = int(list.batch_size, 'item_list.batch_size', 1, JOB_LIMITS.batchSize, '10');
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
  return { api, workers, itemList: { items: list.items as unknown[], batchSize }, maxReceiveCount, ...base };
}

/** A TaskAPI job submission ({config, timeout}) as the TaskJob spec. */
export function parseTaskSubmission(api: string, body: unknown): TaskJobSpec {
  if (body === undefined || body === null) return { api, config: {} };
  if (!isPlainObject(body)) throw new SubmissionError('(body)', 'must be a JSON object', 'send {"config": {...}}');
  return { api, ...common(body, ['config', 'timeout']) };
}
