// A BatchAPI's or TaskAPI's endpoint on the local gateway, with Cortex's HTTP interface
// (docs/batch.md, docs/task.md): POST <endpoint> submits a job from the same JSON `cortex submit`
// reads, GET <endpoint>?jobID=<id> answers its status, DELETE <endpoint>?jobID=<id> stops it.
// The HTTP side is the activator's too (operator/job-endpoint.ts); the jobs go through the
// functions the CLI's submit, get and delete call (cli/local/jobs.ts), so the two cannot disagree;
// a CliError becomes 400 (bad submission) or 404 (no such API). A dry run (?dryRun=true) lists the
// files with the gateway's environment and the API's models.storage endpoints, as the job's runner
// started from here would (runtime/batch/job-main.ts).
import type http from 'node:http';
import { answer, jobPathRest, serveJobEndpoint } from '../../operator/job-endpoint.ts';
import type { BatchApiSpec } from '../../operator/api/v1alpha1/index.ts';
import { storageEndpoints } from '../../runtime/batch/enqueue.ts';
import { parseBatchSubmission } from '../../runtime/batch/submission.ts';
import { CliError, ExitCode } from '../errors.ts';
import { jobApi, jobApis, localJob, stopJobMessage, submitLocalJob } from './jobs.ts';
import type { Layout } from './paths.ts';

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
    match: (pathname) => endpoints().find(({ endpoint }) => jobPathRest(endpoint, pathname) !== undefined),
    serve: async (name, req, res, rest, query) => {
      try {
        const api = jobApi(l, name);
        if (api === undefined)
          throw new CliError(`no BatchAPI or TaskAPI named ${name} is deployed`, ExitCode.NotFound);
        await serveJobEndpoint(
          {
            api: name,
            endpoint: api.spec.networking.endpoint,
            maxBodyBytes,
            store: {
              submit: (body) => submitLocalJob(l, api, body),
              job: async (id) => localJob(l, name, id),
              stop: (id) => stopJobMessage(l, name, id),
              ...(api.kind === 'BatchAPI'
                ? {
                    plan: (body: unknown) => ({
                      spec: parseBatchSubmission(name, body),
                      endpoints: storageEndpoints((api.spec as BatchApiSpec).predictor.models),
                    }),
                  }
                : {}),
            },
          },
          req,
          res,
          rest,
          query,
        );
      } catch (error) {
        if (!(error instanceof CliError)) throw error;
        req.resume();
        answer(res, error.exitCode === ExitCode.NotFound ? 404 : 400, { error: error.message });
      }
    },
  };
}
