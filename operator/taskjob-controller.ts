// The TaskJob controller: a TaskJob is owned by its TaskAPI and runs as a Kubernetes Job of one
// pod (`cortex task-runner`, reconcilers/batch-job.ts), not retried. Its status follows that Job:
// running, then succeeded (Complete), timed_out (DeadlineExceeded: spec.timeout is the Job's
// activeDeadlineSeconds) or failed (the task raised; its pod's log says why); failed at once when
// its TaskAPI is missing; stopped once spec.stop is true (cortex delete API JOB_ID, DELETE
// <endpoint>?jobID=): its Job, and the pod with it, is deleted.
import type { V1Job } from '@kubernetes/client-node';
import { TASK_KIND, type JobStatusWord, type TaskApiSpec, type TaskJobSpec } from './api/v1alpha1/index.ts';
import { objectKey } from './controller/informer.ts';
import { JobController, type JobControllerBase } from './job-controller.ts';
import type { ReconcileResult } from './controller/queue.ts';
import { isNotFound, type KubeObject } from './kube/client.ts';
import { JOBS } from './kube/resources.ts';
import {
  TASK_APIS,
  TASK_JOBS,
  STOP_MESSAGE,
  completeCondition,
  deleteJob,
  ensureJob,
  jobConfig,
  ownToApi,
  writeJobStatus,
  type JobApiObject,
  type JobObject,
} from './job-resources.ts';
import { desiredTaskRun } from './reconcilers/batch-job.ts';
import type { PolicyRule } from './reconcilers/types.ts';

export const taskJobRbac: PolicyRule[] = [
  { apiGroups: [TASK_APIS.group], resources: [TASK_APIS.plural], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [TASK_JOBS.group], resources: [TASK_JOBS.plural], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: [TASK_JOBS.group], resources: [`${TASK_JOBS.plural}/status`], verbs: ['get', 'patch', 'update'] },
];

/** How often a running task's Job is looked at. */
const POLL_MS = 2000;

type TaskJobObject = JobObject<TaskJobSpec>;

export type TaskJobControllerOptions = JobControllerBase;

export class TaskJobController extends JobController<TaskJobSpec> {
  private readonly o: TaskJobControllerOptions;

  constructor(options: TaskJobControllerOptions) {
    super(options, TASK_JOBS, 1);
    this.o = options;
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const tj = this.activeJob(key);
    if (!tj) return;
    const { client } = this.o;
    const { namespace, name, uid } = tj.metadata;
    if (tj.spec.stop === true) {
      // read before the delete: the run's start time is the job's
      const run = await client.get<V1Job & KubeObject>(JOBS, namespace, name).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
      await deleteJob(client, tj);
      return this.end(tj, 'stopped', 'Stopped', STOP_MESSAGE, run);
    }
    let api: JobApiObject<TaskApiSpec>;
    try {
      api = await client.get<JobApiObject<TaskApiSpec>>(TASK_APIS, namespace, tj.spec.api);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      return this.end(
        tj,
        'failed',
        'NoTaskAPI',
        `no TaskAPI ${tj.spec.api} in namespace ${namespace}: deploy it first`,
      );
    }
    await ownToApi(client, TASK_JOBS, tj, api, TASK_KIND);
    const run: V1Job = await ensureJob(client, tj, () =>
      desiredTaskRun(
        { name, namespace, uid, spec: tj.spec },
        { name: api.metadata.name, spec: api.spec },
        jobConfig(this.o, api.spec.compute),
      ),
    );
    const condition = (type: string) => run.status?.conditions?.find((c) => c.type === type && c.status === 'True');
    const failed = condition('Failed');
    if (condition('Complete')) return this.end(tj, 'succeeded', 'Succeeded', undefined, run);
    if (failed?.reason === 'DeadlineExceeded') {
      return this.end(tj, 'timed_out', 'TimedOut', `not finished within its timeout of ${tj.spec.timeout} s`, run);
    }
    if (failed) {
      const why = `the task failed (${failed.message ?? failed.reason}); see cortex logs ${tj.spec.api} ${name}`;
      return this.end(tj, 'failed', 'TaskFailed', why, run);
    }
    const started = run.status?.startTime;
    await writeJobStatus(client, TASK_JOBS, tj, {
      status: (run.status?.active ?? 0) > 0 ? 'running' : 'pending',
      ...(started ? { startTime: new Date(started).toISOString() } : {}),
      conditions: [completeCondition(tj, 'False', 'Running', 'the task runs')],
    });
    return { requeueAfterMs: POLL_MS };
  }

  private async end(tj: TaskJobObject, word: JobStatusWord, reason: string, message?: string, run?: V1Job) {
    this.o.log.info(`task job ${objectKey(tj)} ${word}`, { ...(message ? { message } : {}) });
    const started = run?.status?.startTime;
    await writeJobStatus(this.o.client, TASK_JOBS, tj, {
      status: word,
      ...(message ? { message } : {}),
      ...(started ? { startTime: new Date(started).toISOString() } : {}),
      endTime: new Date().toISOString(),
      conditions: [completeCondition(tj, 'True', reason, message ?? word)],
    });
  }
}
