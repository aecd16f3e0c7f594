// A BatchAPI's or TaskAPI's HTTP endpoint, Cortex's interface (docs/batch.md, docs/task.md):
// POST <endpoint> submits a job from the JSON `cortex submit` reads and answers its record,
// GET <endpoint>?jobID=<id> answers {job_status, endpoint}, DELETE <endpoint>?jobID=<id> stops it
// and answers {message}; POST <endpoint>?dryRun=true lists the files a BatchAPI job would read
// (job-dry-run.ts) and creates nothing. One handler for the local gateway (cli/local/gateway-jobs.ts: job
// runners) and the activator in a cluster (activator/job-front.ts: BatchJob and TaskJob
// resources), each with its JobStore, so an HTTP client meets the same answers and errors in both.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SubmissionError } from '../runtime/batch/submission.ts';
import type { JobRecord } from '../runtime/batch/record.ts';
import { listJobFiles } from '../runtime/batch/bucket-items.ts';
import type { Endpoints } from '../runtime/storage/sources.ts';
import type { BatchJobSpec } from './api/v1alpha1/index.ts';
import { answerDryRun, parseBool } from './job-dry-run.ts';
import type { JobView } from './job-view.ts';

/** A request the endpoint refuses: 400 (not a job, no job id), 404 (no such job), 413 (too large). */
export class JobEndpointError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Where one API's jobs live. */
export interface JobStore {
  /** Starts a job from the submission JSON (throws SubmissionError for a bad one); its first record. */
  submit(body: unknown): Promise<JobRecord>;
  /** The job, if it is one of this API's. */
  job(id: string): Promise<JobView | undefined>;
  /** Stops the job (it exists); says what happened. */
  stop(id: string, job: JobView): Promise<string>;
  /**
   * For ?dryRun=true (a BatchAPI's store only): the job the submission would be (throws
   * SubmissionError as submit does) and where its enqueuer would reach the buckets.
   */
  plan?(body: unknown): { spec: BatchJobSpec; endpoints: Endpoints };
}

export interface JobEndpoint {
  /** The API's name (in messages). */
  api: string;
  /** Its networking.endpoint (in messages, and GET's answer). */
  endpoint: string;
  store: JobStore;
  maxBodyBytes: number;
}

/**
 * The path after a job API's `endpoint` when `pathname` is the endpoint itself ('') or
 * <endpoint>/<job id> ('/<id>'); undefined for any other path.
 */
export function jobPathRest(endpoint: string, pathname: string): string | undefined {
  let rest: string;
  if (endpoint === '/') rest = pathname;
  else if (pathname === endpoint) rest = '';
  else if (pathname.startsWith(endpoint + '/')) rest = pathname.slice(endpoint.length);
  else return undefined;
  if (rest === '/') return '';
  return rest === '' || /^\/[A-Za-z0-9-]+$/.test(rest) ? rest : undefined;
}

/** The job's text as JSON (`cortex submit`'s file, the body of a POST to the API's endpoint). */
export function parseJobJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new JobEndpointError(400, `the job is not JSON: ${(error as Error).message}`);
  }
}

export function answer(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** The body, or undefined past `limit` bytes (the rest is drained, so the answer reaches the client). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? -1) > limit) {
      req.resume();
      return resolve(undefined);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Serves one request. `rest` is the path after the endpoint ('' or '/<id>'), `query` the query
 * string without '?'. A refused request is answered {error} with its status; other errors throw.
 */
export async function serveJobEndpoint(
  e: JobEndpoint,
  req: IncomingMessage,
  res: ServerResponse,
  rest: string,
  query: string,
): Promise<void> {
  try {
    await serve(e, req, res, rest, query);
  } catch (error) {
    const refused =
      error instanceof SubmissionError ? new JobEndpointError(400, `job submission: ${error.message}`) : error;
    if (!(refused instanceof JobEndpointError)) throw error;
    req.resume();
    answer(res, refused.status, { error: refused.message });
  }
}

async function serve(e: JobEndpoint, req: IncomingMessage, res: ServerResponse, rest: string, query: string) {
  const { endpoint } = e;
  // Cortex's ?jobID=<id>, or <endpoint>/<id> as its docs' prose also says
  const params = new URLSearchParams(query);
  const jobId = params.get('jobID') ?? (rest.length > 1 ? rest.slice(1) : undefined);
  if (req.method === 'POST') {
    if (jobId !== undefined) throw new JobEndpointError(400, `POST ${endpoint} submits a job; it takes no job id`);
    const dryRun = params.get('dryRun');
    const dry = dryRun === null ? false : parseBool(dryRun);
    if (dry === undefined) {
      throw new JobEndpointError(400, `dryRun=${dryRun}: write dryRun=true to list the job's files, or leave it out`);
    }
    if (dry && e.store.plan === undefined) {
      throw new JobEndpointError(
        400,
        `dryRun lists the files of a BatchAPI job (file_path_lister, delimited_files); ` +
          `${e.api} is a TaskAPI: leave dryRun out`,
      );
    }
    const body = await readBody(req, e.maxBodyBytes);
    if (body === undefined) throw new JobEndpointError(413, `the job is larger than ${e.maxBodyBytes} bytes`);
    const job = parseJobJson(body.toString('utf8'));
    if (dry) {
      const { spec, endpoints } = e.store.plan!(job);
      return answerDryRun(res, listJobFiles(spec, endpoints));
    }
    return answer(res, 200, await e.store.submit(job));
  }
  req.resume();
  if (req.method !== 'GET' && req.method !== 'DELETE') {
    res.setHeader('Allow', 'POST, GET, DELETE');
    throw new JobEndpointError(405, `${endpoint} takes POST (submit), GET and DELETE with ?jobID=<id>`);
  }
  if (jobId === undefined) {
    throw new JobEndpointError(
      400,
      `give the job: ${req.method} ${endpoint}?jobID=<id> (POST ${endpoint} answers the id)`,
    );
  }
  const job = await e.store.job(jobId);
  if (job === undefined) throw new JobEndpointError(404, `${e.api} has no job ${jobId}`);
  if (req.method === 'GET') return answer(res, 200, { job_status: job, endpoint });
  return answer(res, 200, { message: await e.store.stop(jobId, job) });
}
