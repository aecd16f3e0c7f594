// How a TaskAPI run is configured (task-main.ts): shared with the operator (its TaskJob pods), so
// nothing here imports more than types.
import type { TaskApiSpec, TaskJobSpec } from '../../operator/api/v1alpha1/index.ts';

export const TASK_ENV = 'CORTEX_TASK';

export interface TaskEnv {
  api: string;
  job_id: string;
  project_dir: string;
  spec: TaskApiSpec;
  job: TaskJobSpec;
  /** Local runs: the job's folder (status.json, job.log). */
  job_dir?: string;
}
