// The BatchJob controller: a BatchJob (created with kubectl, GitOps or a submission) is owned by
// its BatchAPI, its items are enqueued once (runtime/batch/enqueue.ts) with the job's record in the
// store, and its workers are an Indexed Job (reconcilers/batch-job.ts). Its status follows the
// queue: batch counts (enqueued, succeeded, failed) every few seconds, then succeeded or
// completed_with_failures once nothing is waiting or held, timed_out past spec.timeout (the Job
// is deleted), failed when its BatchAPI is missing or enqueuing failed, stopped once spec.stop is
// true (cortex delete API JOB_ID, DELETE <endpoint>?jobID=: the Job is deleted and the queued
// batches dropped, as at the timeout); a Complete condition with the status word as reason.
import type { V1Job } from '@kubernetes/client-node';
import {
  BATCH_KIND,
  GROUP,
  type BatchApiSpec,
  type BatchJobSpec,
  type JobStatus,
  type JobStatusWord,
} from './api/v1alpha1/index.ts';
import { objectKey } from './controller/informer.ts';
import { JobController, type JobControllerBase } from './job-controller.ts';
import type { ReconcileResult } from './controller/queue.ts';
import { isNotFound } from './kube/client.ts';
import {
  BATCH_APIS,
  BATCH_JOBS,
  completeCondition,
  deleteJob,
  ensureJob,
  jobConfig,
  ownToApi,
  STOP_MESSAGE,
  writeJobStatus,
  type JobApiObject,
  type JobObject,
} from './job-resources.ts';
import { JOBS } from './kube/resources.ts';
import { desiredBatchWorkers } from './reconcilers/batch-job.ts';
import { ruleOn, type PolicyRule } from './reconcilers/types.ts';
import { errorMessage } from './util/errors.ts';
import type { Broker } from '../runtime/queue/types.ts';
import { enqueueBatches, storageEndpoints } from '../runtime/batch/enqueue.ts';
import { batchStream, type JobRef } from '../runtime/batch/job-keys.ts';
import { jobCounts, readRecord, writeRecord, type JobRecord } from '../runtime/batch/record.ts';

export const batchJobRbac: PolicyRule[] = [
  { apiGroups: [GROUP], resources: [BATCH_APIS.plural], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [GROUP], resources: [BATCH_JOBS.plural], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: [GROUP], resources: [`${BATCH_JOBS.plural}/status`], verbs: ['get', 'patch', 'update'] },
  ruleOn(JOBS, ['get', 'create', 'delete']),
];

/** How often a running job's counts are read from the queue. */
const POLL_MS = 2000;

type BatchJobObject = JobObject<BatchJobSpec>;
type BatchApiObject = JobApiObject<BatchApiSpec>;

export interface BatchJobControllerOptions extends JobControllerBase {
  broker: Broker;
  queueUrl: string;
}

export class BatchJobController extends JobController<BatchJobSpec> {
  private readonly o: BatchJobControllerOptions;

  constructor(options: BatchJobControllerOptions) {
    super(options, BATCH_JOBS, 2);
    this.o = options;
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const bj = this.activeJob(key);
    if (!bj) return;
    const { client, broker } = this.o;
    const { namespace, name } = bj.metadata;
    const ref: JobRef = { api: bj.spec.api, id: name };
    if (bj.spec.stop === true) return this.stopJob(bj, ref);
    let api: BatchApiObject;
    try {
      api = await client.get<BatchApiObject>(BATCH_APIS, namespace, bj.spec.api);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      return this.end(
        bj,
        'failed',
        'NoBatchAPI',
        `no BatchAPI ${bj.spec.api} in namespace ${namespace}: deploy it first`,
      );
    }
    await ownToApi(client, BATCH_JOBS, bj, api, BATCH_KIND);
    let record = await readRecord(broker, ref);
    if (record?.total_batches === undefined) {
      record = newRecord(bj, 'enqueuing');
      await this.writeStatus(bj, { status: 'enqueuing' });
      await broker.deleteStream(batchStream(ref)); // a half-enqueued try before an operator restart
      try {
        record.total_batches = await enqueueBatches(broker, ref, bj.spec, {
          endpoints: storageEndpoints(api.spec.predictor.models),
        });
      } catch (error) {
        return this.end(bj, 'failed', 'EnqueueFailed', `failed while enqueuing: ${errorMessage(error)}`);
      }
      record.status = 'running';
      record.start_time = new Date().toISOString();
      await writeRecord(broker, record);
    }
    const total = record.total_batches!;
    const started = Date.parse(record.created_time);
    if (bj.spec.timeout !== undefined && Date.now() >= started + bj.spec.timeout * 1000) {
      await this.deleteWorkers(bj);
      await broker.deleteStream(batchStream(ref));
      return this.end(bj, 'timed_out', 'TimedOut', `not finished within its timeout of ${bj.spec.timeout} s`, record);
    }
    const workers = await this.ensureWorkers(bj, api);
    const counts = await jobCounts(broker, ref, total);
    const batches = { total, enqueued: counts.enqueued, succeeded: counts.succeeded, failed: counts.failed };
    if (counts.enqueued === 0 && counts.succeeded + counts.failed >= total) {
      return counts.failed === 0
        ? this.end(bj, 'succeeded', 'Succeeded', undefined, record, batches)
        : this.end(
            bj,
            'completed_with_failures',
            'CompletedWithFailures',
            `${counts.failed} of ${total} batches failed every try`,
            record,
            batches,
          );
    }
    const failed = workers.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
    if (failed) {
      return this.end(bj, 'failed', 'WorkerError', `worker error: ${failed.message ?? failed.reason}`, record, batches);
    }
    await this.writeStatus(bj, {
      status: 'running',
      startTime: record.start_time,
      batches,
      conditions: [completeCondition(bj, 'False', 'Running', `${counts.succeeded} of ${total} batches done`)],
    });
    return { requeueAfterMs: POLL_MS };
  }

  private ensureWorkers(bj: BatchJobObject, api: BatchApiObject): Promise<V1Job> {
    const { namespace, name, uid } = bj.metadata;
    return ensureJob(this.o.client, bj, () =>
      desiredBatchWorkers(
        { name, namespace, uid, spec: bj.spec },
        { name: api.metadata.name, spec: api.spec },
        this.o.queueUrl,
        jobConfig(this.o, api.spec.compute),
      ),
    );
  }

  private deleteWorkers(bj: BatchJobObject): Promise<void> {
    return deleteJob(this.o.client, bj);
  }

  /**
   * spec.stop: the workers go (their Job, and its pods with it), the batches still queued are
   * dropped, and the record and the status say stopped, with the counts as they were.
   */
  private async stopJob(bj: BatchJobObject, ref: JobRef): Promise<void> {
    const { broker } = this.o;
    await this.deleteWorkers(bj);
    const record = (await readRecord(broker, ref)) ?? newRecord(bj, 'pending');
    const total = record.total_batches;
    const counts = total === undefined ? undefined : await jobCounts(broker, ref, total);
    await broker.deleteStream(batchStream(ref));
    const batches = counts && { total: counts.total, enqueued: 0, succeeded: counts.succeeded, failed: counts.failed };
    return this.end(bj, 'stopped', 'Stopped', STOP_MESSAGE, record, batches);
  }

  private async end(
    bj: BatchJobObject,
    word: JobStatusWord,
    reason: string,
    message?: string,
    record?: JobRecord,
    batches?: JobStatus['batches'],
  ): Promise<void> {
    const endTime = new Date().toISOString();
    if (record) {
      await writeRecord(this.o.broker, { ...record, status: word, end_time: endTime, ...(message ? { message } : {}) });
    }
    this.o.log.info(`batch job ${objectKey(bj)} ${word}`, { ...(message ? { message } : {}) });
    await this.writeStatus(bj, {
      status: word,
      ...(message ? { message } : {}),
      ...(batches ? { batches } : {}),
      ...(record?.start_time ? { startTime: record.start_time } : {}),
      endTime,
      conditions: [completeCondition(bj, 'True', reason, message ?? word)],
    });
  }

  private writeStatus(bj: BatchJobObject, status: JobStatus): Promise<void> {
    return writeJobStatus(this.o.client, BATCH_JOBS, bj, status);
  }
}

/** The job's record in the store before its batches are enqueued. */
function newRecord(bj: BatchJobObject, status: JobStatusWord): JobRecord {
  return {
    job_id: bj.metadata.name,
    api_name: bj.spec.api,
    kind: 'BatchAPI',
    workers: bj.spec.workers,
    config: bj.spec.config,
    ...(bj.spec.timeout !== undefined ? { timeout: bj.spec.timeout } : {}),
    max_receive_count: bj.spec.maxReceiveCount,
    status,
    created_time: bj.metadata.creationTimestamp ?? new Date().toISOString(),
  };
}
