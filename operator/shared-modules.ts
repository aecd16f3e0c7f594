// The modules of runtime/ the operator runs too, which its image copies (operator/Dockerfile;
// operator/self-contained.test.ts and the image tests check both sides).

/**
 * What the operator shares with the runtime, and the image copies too (operator/Dockerfile): the
 * queue of batch jobs and async requests, the few batch modules the BatchJob controller runs (with
 * the storage clients that list and read a job's filePathLister / delimitedFiles objects), the
 * submission checks of the activator's job endpoint (job-view.ts), and the async front the
 * activator answers for an AsyncAPI at zero. Each imports only from this list and operator/
 * (checked below).
 */
export const SHARED = [
  'runtime/queue',
  'runtime/batch/job-keys.ts',
  'runtime/batch/enqueue.ts',
  'runtime/batch/bucket-items.ts',
  'runtime/batch/glob.ts',
  'runtime/storage/sources.ts',
  'runtime/storage/s3.ts',
  'runtime/storage/fetch-file.ts',
  'runtime/batch/record.ts',
  'runtime/batch/submission.ts',
  'runtime/task/task-keys.ts',
  'runtime/async/front.ts',
  'runtime/async/records.ts',
];

/** Whether `file` (relative to the repository root) is, or is inside, one of SHARED. */
export const isShared = (file: string): boolean => SHARED.some((s) => file === s || file.startsWith(`${s}/`));
