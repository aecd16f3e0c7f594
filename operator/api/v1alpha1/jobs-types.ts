// BatchAPI and TaskAPI v1alpha1 (Cortex's job kinds, docs/batch.md, docs/task.md), and the
// resource of each job submitted to them (BatchJob, TaskJob, owned by their API). One source for
// the TypeScript types, the checks and the CRDs' openAPIV3Schema (generate-jobs-crd.ts).

import { Type, type Static } from '@sinclair/typebox';
import { ComputeSchema, ENDPOINT_PATTERN, PredictorSchema } from './realtimeapi-types.ts';
import { ConditionSchema } from './realtimeapi-status.ts';
import { Computed, FreeForm, StringEnum, Struct } from './schema-helpers.ts';

export const BATCH_KIND = 'BatchAPI';
export const TASK_KIND = 'TaskAPI';
export const BATCH_JOB_KIND = 'BatchJob';
export const TASK_JOB_KIND = 'TaskJob';
export const JOB_API_KINDS = [BATCH_KIND, TASK_KIND] as const;
export type JobApiKind = (typeof JOB_API_KINDS)[number];

/** Resource names of the four kinds (plural, singular, short names). */
export const JOB_NAMES = {
  [BATCH_KIND]: { plural: 'batchapis', singular: 'batchapi', shortNames: ['bapi'] },
  [TASK_KIND]: { plural: 'taskapis', singular: 'taskapi', shortNames: ['tapi'] },
  [BATCH_JOB_KIND]: { plural: 'batchjobs', singular: 'batchjob', shortNames: ['bjob'] },
  [TASK_JOB_KIND]: { plural: 'taskjobs', singular: 'taskjob', shortNames: ['tjob'] },
} as const;

/** Bounds of a job submission (Cortex's: 10 MiB per request, of which a batch is a slice). */
export const JOB_LIMITS = { workers: 1000, batchSize: 100_000, maxReceiveCount: 100, timeoutSeconds: 7 * 86400 };

const JobNetworkingSchema = Struct(
  {
    endpoint: Computed(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        pattern: ENDPOINT_PATTERN,
        description:
          'URL path where jobs are submitted (POST), read (GET ?jobID=) and stopped (DELETE ?jobID=). ' +
          'Default: /<name>.',
      }),
    ),
  },
  { default: {}, description: 'Where jobs are submitted.' },
);

const noRealtimeOnly = (what: string) => [
  {
    rule: '!has(self.predictor.serverSideBatching)',
    message: `predictor.serverSideBatching is for RealtimeAPIs: a ${what} gets whole batches already`,
    fieldPath: '.predictor.serverSideBatching',
    reason: 'FieldValueForbidden',
  },
  {
    rule: '!has(self.predictor.payloadLogging)',
    message: `predictor.payloadLogging copies a RealtimeAPI's requests and responses, not a ${what}'s work`,
    fieldPath: '.predictor.payloadLogging',
    reason: 'FieldValueForbidden',
  },
  {
    rule: '!has(self.predictor.protobufPath)',
    message: `predictor.protobufPath (gRPC) is for RealtimeAPIs, not a ${what}`,
    fieldPath: '.predictor.protobufPath',
    reason: 'FieldValueForbidden',
  },
  {
    rule: "self.predictor.type == 'python'",
    message: `a ${what} runs a Python class: predictor.type must be python`,
    fieldPath: '.predictor.type',
    reason: 'FieldValueInvalid',
  },
];

export const BatchApiSpecSchema = Struct(
  {
    predictor: PredictorSchema,
    compute: ComputeSchema,
    networking: JobNetworkingSchema,
  },
  {
    description:
      'A batch API (Cortex BatchAPI): jobs submitted to it split their items into batches, which workers ' +
      'hand to Handler.handle_batch(payload, batch_id) (or PythonPredictor.predict(payload, batch_id)). ' +
      'processesPerReplica x threadsPerProcess batches run at once per worker.',
    'x-kubernetes-validations': noRealtimeOnly('BatchAPI'),
  },
);
export type BatchApiSpec = Static<typeof BatchApiSpecSchema>;

export const TaskApiSpecSchema = Struct(
  {
    predictor: PredictorSchema,
    compute: ComputeSchema,
    networking: JobNetworkingSchema,
  },
  {
    description:
      'A task API (Cortex TaskAPI): each job runs Task()(config) from predictor.path once, as a Kubernetes Job ' +
      "with the API's compute (Cortex 0.28-0.35 called predictor `definition`).",
    'x-kubernetes-validations': noRealtimeOnly('TaskAPI'),
  },
);
export type TaskApiSpec = Static<typeof TaskApiSpecSchema>;

export const ItemListSchema = Struct(
  {
    items: Type.Array(Type.Unsafe<unknown>({ 'x-kubernetes-preserve-unknown-fields': true }), {
      minItems: 1,
      description: 'The items, each any JSON value; a batch is batchSize consecutive items.',
    }),
    batchSize: Type.Integer({
      minimum: 1,
      maximum: JOB_LIMITS.batchSize,
      description: 'Items per batch: handle_batch gets a list of at most this many.',
    }),
  },
  { description: 'The data of the job, in the submission itself.' },
);

/** The shared fields of filePathLister and delimitedFiles: which objects of which buckets. */
const bucketLister = (each: string, description: string) =>
  Struct(
    {
      s3Paths: Type.Array(Type.String({ minLength: 6, maxLength: 2048, pattern: '^(s3|gs)://' }), {
        minItems: 1,
        maxItems: 1000,
        description:
          'Where the files are: s3://bucket/prefix or gs://bucket/prefix, each a key prefix as in Cortex ' +
          '(s3://bucket/images/ is every object under images/, s3://bucket/images/img every key starting with ' +
          'images/img, s3://bucket/a.json that object and any key that starts with it).',
      }),
      includes: Type.Optional(
        Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), {
          maxItems: 100,
          description:
            'Glob patterns matched against the whole URL (s3://bucket/key): when set, only the objects matching ' +
            'one of them. * and ? stop at /, ** crosses it; [abc] and {a,b} as in Cortex. Default: every object.',
        }),
      ),
      excludes: Type.Optional(
        Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), {
          maxItems: 100,
          description: 'Glob patterns (as includes): the objects matching one of them are left out. Default: none.',
        }),
      ),
      batchSize: Type.Integer({
        minimum: 1,
        maximum: JOB_LIMITS.batchSize,
        description: `${each} per batch: handle_batch gets a list of at most this many.`,
      }),
    },
    { description },
  );

export const FilePathListerSchema = bucketLister(
  'Object URLs',
  'The data of the job is a list of objects in buckets: each item is one URL (s3://bucket/key), listed and ' +
    'filtered when the job is enqueued (Cortex file_path_lister).',
);
export const DelimitedFilesSchema = bucketLister(
  'Lines',
  'The data of the job is in newline-delimited JSON files in buckets: each line of each file is one item ' +
    '(blank lines skipped), read as the job is enqueued; a batch may span two files (Cortex delimited_files).',
);
export type BucketLister = Static<typeof FilePathListerSchema>;

/** The three places a BatchJob's items come from; exactly one is set. */
export const BATCH_DATA_SOURCES = ['itemList', 'filePathLister', 'delimitedFiles'] as const;

const JobCommon = {
  api: Type.String({
    minLength: 1,
    maxLength: 63,
    pattern: '^[a-z]([-a-z0-9]*[a-z0-9])?$',
    description: 'The API (same namespace) whose code runs the job; it owns the job.',
  }),
  config: FreeForm({
    default: {},
    description: "The job's config: merged over predictor.config for this job's workers. Default: {}.",
  }),
  timeout: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: JOB_LIMITS.timeoutSeconds,
      description: 'Seconds from submission after which the job is stopped with status timed_out. Default: none.',
    }),
  ),
  stop: Type.Optional(
    Type.Boolean({
      description:
        'true stops the job (cortex delete API JOB_ID, DELETE <endpoint>?jobID=): its workers are deleted, its ' +
        'queued work dropped, and its status becomes stopped; the resource stays, for its status. Once true it ' +
        'stays true. Default: false.',
    }),
  ),
};

/** A transition rule (oldSelf): a stop is not taken back, since the workers are gone by then. */
const stopStays = {
  rule: '!has(oldSelf.stop) || !oldSelf.stop || (has(self.stop) && self.stop)',
  message: 'spec.stop cannot go back to false once true: a stopped job stays stopped; submit a new job instead',
  fieldPath: '.stop',
  reason: 'FieldValueForbidden',
};

export const BatchJobSpecSchema = Struct(
  {
    ...JobCommon,
    workers: Type.Integer({
      minimum: 1,
      maximum: JOB_LIMITS.workers,
      description: 'Worker pods (an Indexed Kubernetes Job of this parallelism) that take batches from the queue.',
    }),
    itemList: Type.Optional(ItemListSchema),
    filePathLister: Type.Optional(FilePathListerSchema),
    delimitedFiles: Type.Optional(DelimitedFilesSchema),
    maxReceiveCount: Type.Integer({
      minimum: 1,
      maximum: JOB_LIMITS.maxReceiveCount,
      default: 3,
      description:
        'Tries of a batch (a failure or a worker that died holding it counts) before it goes to the dead-letter ' +
        "record and the job's failed count (Cortex's sqs_dead_letter_queue.max_receive_count). Default: 3.",
    }),
  },
  {
    description:
      'One job of a BatchAPI: its items (itemList, filePathLister or delimitedFiles), batch size, workers and config.',
    'x-kubernetes-validations': [
      stopStays,
      {
        rule: `[${BATCH_DATA_SOURCES.map((f) => `has(self.${f})`).join(', ')}].filter(x, x).size() == 1`,
        message: `exactly one of ${BATCH_DATA_SOURCES.join(', ')} must be set: where the job's items come from`,
        reason: 'FieldValueInvalid',
      },
    ],
  },
);
export type BatchJobSpec = Static<typeof BatchJobSpecSchema>;

export const TaskJobSpecSchema = Struct(
  { ...JobCommon },
  { description: 'One run of a TaskAPI: Task()(config) in a pod of its own.', 'x-kubernetes-validations': [stopStays] },
);
export type TaskJobSpec = Static<typeof TaskJobSpecSchema>;

/**
 * Job status words (Cortex's, snake_case): pending (accepted, nothing started), enqueuing,
 * running, succeeded, completed_with_failures (every batch done, some dead-lettered), failed
 * (could not enqueue, or a worker could not start), stopped (cortex delete API JOB_ID), timed_out.
 */
export const JOB_STATUS_WORDS = [
  'pending',
  'enqueuing',
  'running',
  'succeeded',
  'completed_with_failures',
  'failed',
  'stopped',
  'timed_out',
] as const;
export type JobStatusWord = (typeof JOB_STATUS_WORDS)[number];
export const JOB_DONE_WORDS: readonly JobStatusWord[] = [
  'succeeded',
  'completed_with_failures',
  'failed',
  'stopped',
  'timed_out',
];

const count = (description: string) => Type.Optional(Type.Integer({ minimum: 0, format: 'int64', description }));
const time = (description: string) => Type.Optional(Type.String({ format: 'date-time', description }));

export const JobStatusSchema = Type.Object(
  {
    status: Type.Optional(
      StringEnum(JOB_STATUS_WORDS, {
        description: 'pending, enqueuing, running, succeeded, completed_with_failures, failed, stopped or timed_out.',
      }),
    ),
    message: Type.Optional(Type.String({ maxLength: 32768, description: 'Why the job failed or stopped.' })),
    batches: Type.Optional(
      Type.Object(
        {
          total: count('Batches the items were split into.'),
          enqueued: count('Batches waiting in the queue or being worked on.'),
          succeeded: count('Batches handle_batch returned for.'),
          failed: count('Batches that failed every try (their records are in the dead-letter list).'),
        },
        { description: 'Batch counts (BatchJob only).' },
      ),
    ),
    startTime: time('When the job started.'),
    endTime: time('When the job ended.'),
    conditions: Type.Optional(
      Type.Array(ConditionSchema, {
        maxItems: 8,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
        description: 'Complete (True when it ended, with the status word as reason) and Running.',
      }),
    ),
  },
  { description: 'What the operator observed of the job.' },
);
export type JobStatus = Static<typeof JobStatusSchema>;

/** The generic job API status: how many jobs it has running. */
export const JobApiStatusSchema = Type.Object(
  {
    endpoint: Type.Optional(Type.String({ maxLength: 2048, description: 'Where jobs are submitted.' })),
    activeJobs: count('Jobs not ended.'),
  },
  { description: 'What the operator observed of the API.' },
);
export type JobApiStatus = Static<typeof JobApiStatusSchema>;

/** A job API as the CLI and the operator hold it. */
export type JobApiSpec = BatchApiSpec | TaskApiSpec;

/** A problem with a job API's spec: the field (camelCase path), what is wrong, how to fix it. */
export interface JobApiIssue {
  path: string[];
  message: string;
  fix: string;
}

/** The checks the CRDs' CEL rules make, with a fix each (the CLI runs them before anything is applied). */
export function validateJobApi(kind: JobApiKind, spec: JobApiSpec): JobApiIssue[] {
  const issues: JobApiIssue[] = [];
  const p = spec.predictor;
  if (p.type !== 'python') {
    issues.push({
      path: ['predictor', 'type'],
      message: `a ${kind} runs a Python class; ${p.type} is not supported`,
      fix: 'write type: python',
    });
  }
  if (p.serverSideBatching !== undefined) {
    issues.push({
      path: ['predictor', 'serverSideBatching'],
      message: `is for RealtimeAPIs: a ${kind} ${kind === BATCH_KIND ? 'gets whole batches already' : 'runs once'}`,
      fix: 'remove server_side_batching (item_list.batch_size of a job sets the batch size)',
    });
  }
  if (p.payloadLogging !== undefined) {
    issues.push({
      path: ['predictor', 'payloadLogging'],
      message: `copies a RealtimeAPI's requests and responses, not a ${kind}'s work`,
      fix: 'remove payload_logging',
    });
  }
  if (p.protobufPath !== undefined) {
    issues.push({
      path: ['predictor', 'protobufPath'],
      message: `gRPC is for RealtimeAPIs, not a ${kind}`,
      fix: 'remove protobuf_path',
    });
  }
  return issues;
}
