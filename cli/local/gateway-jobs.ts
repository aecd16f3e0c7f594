// A BatchAPI's or TaskAPI's endpoint on the local gateway, with Cortex's HTTP interface
// (docs/batch.md, docs/task.md): POST <endpoint> submits a job from the same JSON `cortex submit`
// reads, GET <endpoint>?jobID=<id> answers its status, DELETE <endpoint>?jobID=<id> stops it.
// Each goes through the functions the CLI's submit, get and delete call (cli/local/jobs.ts), so
// the two cannot disagree; a CliError becomes 400 (bad submission) or 404 (no such job).
import type http from 'node:http';
import { CliError, ExitCode } from '../errors.ts';
import { jobApi, jobApis, localJob, parseJobJson, stopJobMessage, submitLocalJob } from './jobs.ts';
import type { Layout } from './paths.ts';
import { json as answer, readBody, stripEndpoint } from './gateway.ts';

export interface JobFront {
  /** The job API whose endpoint is `pathname` (exactly, or with a trailing /<job id>). */
  match(pathname: string): { api: string; endpoint: string } | undefined;
  endpoints(): { api: string; endpoint: string }[];
  /** Serves one request; `rest` is the path after the endpoint ('' or '/<id>'), `query` without '?'. */
  serve(api: string, req: http.IncomingMessage, res: http.ServerResponse, rest: string, query: string): Promise<void>;
}

export function localJobFront(l: Layout, maxBodyBytes: number): JobFront {
  const endpoints = () => jobApis(l).map((a) => ({ api: a.name, endpoint: a.spec.networking.endpoint }));
  return {
    endpoints,
    match: (pathname) =>
      endpoints().find(({ endpoint }) => {
        const rest = stripEndpoint(endpoint, pathname);
        return rest !== undefined && /^\/[A-Za-z0-9-]*$/.test(rest);
      }),
    serve: async (name, req, res, rest, query) => {
      try {
        await serveJob(l, maxBodyBytes, name, req, res, rest, query);
      } catch (error) {
        if (!(error instanceof CliError)) throw error;
        req.resume();
        answer(res, error.exitCode === ExitCode.NotFound ? 404 : 400, { error: error.message });
      }
    },
  };
}

async function serveJob(
  l: Layout,
  maxBodyBytes: number,
  name: string,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  rest: string,
  query: string,
): Promise<void> {
  const api = jobApi(l, name);
  if (api === undefined) throw new CliError(`no BatchAPI or TaskAPI named ${name} is deployed`, ExitCode.NotFound);
  const endpoint = api.spec.networking.endpoint;
  // Cortex's ?jobID=<id>, or <endpoint>/<id> as its docs' prose also says
  const jobId = new URLSearchParams(query).get('jobID') ?? (rest.length > 1 ? rest.slice(1) : undefined);
  if (req.method === 'POST') {
    if (jobId !== undefined) throw new CliError(`POST ${endpoint} submits a job; it takes no job id`);
    const body = await readBody(req, maxBodyBytes);
    if (body === undefined) return answer(res, 413, { error: `the job is larger than ${maxBodyBytes} bytes` });
    return answer(res, 200, await submitLocalJob(l, api, parseJobJson(body.toString('utf8'))));
  }
  if (req.method !== 'GET' && req.method !== 'DELETE') {
    req.resume();
    res.setHeader('Allow', 'POST, GET, DELETE');
    return answer(res, 405, { error: `${endpoint} takes POST (submit), GET and DELETE with ?jobID=<id>` });
  }
  req.resume();
  if (jobId === undefined) {
    throw new CliError(`give the job: ${req.method} ${endpoint}?jobID=<id> (POST ${endpoint} answers the id)`);
  }
  const job = localJob(l, name, jobId);
  if (job === undefined) throw new CliError(`${name} has no job ${jobId}`, ExitCode.NotFound);
  if (req.method === 'GET') return answer(res, 200, { job_status: job, endpoint });
  return answer(res, 200, { message: await stopJobMessage(l, name, jobId) });
}
