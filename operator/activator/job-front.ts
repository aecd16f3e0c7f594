// BatchAPIs' and TaskAPIs' HTTP endpoints in a cluster, served by the activator (every operator
// replica): POST <endpoint> creates a BatchJob or TaskJob named <api>-<id> from Cortex's
// submission JSON (the resource `cortex submit` creates), GET <endpoint>?jobID=<id> reads it,
// DELETE <endpoint>?jobID=<id> sets its spec.stop (the job's controller stops it and keeps the
// resource for its status). The answers and errors are the local endpoint's (job-endpoint.ts).
//
// Which API a request is for: the Host header or X-Cortex-API, as for a RealtimeAPI (route.ts);
// the path is then the endpoint, / (a route that took the prefix off), or either with /<id>.
// A request that names no API that way (a port-forward to the activator: Host localhost:8889) is
// matched by its path against every job API's networking.endpoint.
//
// No API key is asked for: job APIs have no networking.auth. Whoever reaches the activator can
// submit jobs; it listens on the operator pod's IP, with no Service or route of its own.
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  BATCH_KIND,
  GROUP,
  JOB_DONE_WORDS,
  TASK_KIND,
  VERSION,
  canonicalEndpoint,
  type JobApiKind,
  type ModelsSpec,
} from '../api/v1alpha1/index.ts';
import { storageEndpoints } from '../../runtime/batch/enqueue.ts';
import { parseBatchSubmission } from '../../runtime/batch/submission.ts';
import { Informer, listerWatcher, type InformerOptions } from '../controller/informer.ts';
import { isNotFound, type KubeClient, type KubeObject } from '../kube/client.ts';
import { BATCH_APIS, BATCH_JOBS, TASK_APIS, TASK_JOBS } from '../job-resources.ts';
import { JobEndpointError, answer, jobPathRest, serveJobEndpoint, type JobStore } from '../job-endpoint.ts';
import { jobResource, jobsOf, jobView, setJobStop, type JobResource } from '../job-view.ts';
import type { PolicyRule } from '../reconcilers/types.ts';
import { errorMessage } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';

/** Who wrote a job the endpoint created (its managedFields). */
export const JOB_ENDPOINT_FIELD_MANAGER = 'cortex-job-endpoint';

export const jobFrontRbac: PolicyRule[] = [
  { apiGroups: [GROUP], resources: [BATCH_APIS.plural, TASK_APIS.plural], verbs: ['list', 'watch'] },
  { apiGroups: [GROUP], resources: [`${BATCH_APIS.plural}/status`, `${TASK_APIS.plural}/status`], verbs: ['patch'] },
  { apiGroups: [GROUP], resources: [BATCH_JOBS.plural, TASK_JOBS.plural], verbs: ['create', 'get', 'patch'] },
];

/** Largest job accepted (Cortex's 10 MiB per request; the local gateway's too). */
export const MAX_JOB_BYTES = 10 * 1024 * 1024;

export interface JobApiRef {
  namespace: string;
  name: string;
  kind: JobApiKind;
  endpoint: string;
  /** A BatchAPI's predictor.models: its storage endpoints are where its jobs' files are listed (dryRun). */
  models?: ModelsSpec;
}

/** The job APIs the activator knows. */
export interface JobApis {
  /** Resolves once both kinds are listed. */
  ready: Promise<void>;
  list(): JobApiRef[];
}

/** Where a request's jobs live: one API's BatchJobs or TaskJobs. */
export type JobStores = (api: JobApiRef) => JobStore;

export interface JobFront {
  ready: Promise<void>;
  /** Serves the request if namespace/name is a job API; false when it is none. */
  serveNamed(namespace: string, name: string, req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Serves the request if its path is one job API's endpoint; false when it is none's. */
  serveByPath(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

function split(req: IncomingMessage): { pathname: string; query: string } {
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  return { pathname: q < 0 ? raw : raw.slice(0, q), query: q < 0 ? '' : raw.slice(q + 1) };
}

export function jobFront(apis: JobApis, stores: JobStores): JobFront {
  const serve = (api: JobApiRef, req: IncomingMessage, res: ServerResponse, rest: string, query: string) =>
    serveJobEndpoint(
      { api: api.name, endpoint: api.endpoint, store: stores(api), maxBodyBytes: MAX_JOB_BYTES },
      req,
      res,
      rest,
      query,
    );
  return {
    ready: apis.ready,
    async serveNamed(namespace, name, req, res) {
      const api = apis.list().find((a) => a.namespace === namespace && a.name === name);
      if (api === undefined) return false;
      const { pathname, query } = split(req);
      const rest = jobPathRest(api.endpoint, pathname) ?? jobPathRest('/', pathname);
      if (rest === undefined) {
        req.resume();
        answer(res, 404, {
          error:
            `${pathname} is not a path of ${api.kind} ${namespace}/${name}: ` +
            `send ${api.endpoint} or /, with ?jobID=<id> to read or stop a job`,
        });
      } else await serve(api, req, res, rest, query);
      return true;
    },
    async serveByPath(req, res) {
      const { pathname, query } = split(req);
      const matches = apis.list().filter((a) => jobPathRest(a.endpoint, pathname) !== undefined);
      // the longest endpoint wins (/jobs/nightly over /jobs), as a path prefix does in a route
      const longest = Math.max(0, ...matches.map((a) => a.endpoint.length));
      const best = matches.filter((a) => a.endpoint.length === longest);
      if (best.length === 0) return false;
      if (best.length > 1) {
        req.resume();
        const names = best.map((a) => `${a.namespace}/${a.name}`).join(', ');
        answer(res, 404, {
          error:
            `${pathname} is the endpoint of several job APIs (${names}): ` +
            'name the one with the header X-Cortex-API: <namespace>/<api>',
        });
        return true;
      }
      await serve(best[0], req, res, jobPathRest(best[0].endpoint, pathname)!, query);
      return true;
    },
  };
}

type JobApiObject = KubeObject & {
  metadata: { name: string; namespace: string };
  spec: { networking?: { endpoint?: string }; predictor?: { models?: ModelsSpec } };
  status?: { endpoint?: string };
};

const endpointOf = (a: JobApiObject) => canonicalEndpoint(a.spec.networking?.endpoint ?? `/${a.metadata.name}`);

/** The BatchAPIs and TaskAPIs from informers of the activator's own (it runs on every replica). */
export function kubeJobApis(options: {
  client: KubeClient;
  log: Logger;
  namespace?: string;
  informer?: Pick<InformerOptions<KubeObject>, 'idleTimeoutMs' | 'watchTimeoutSeconds' | 'backoff'>;
}): JobApis & { start(): void; stop(): Promise<void> } {
  const informers = (
    [
      [BATCH_KIND, BATCH_APIS],
      [TASK_KIND, TASK_APIS],
    ] as const
  ).map(
    ([kind, r]) =>
      [
        kind,
        new Informer<JobApiObject>({
          name: r.plural,
          source: listerWatcher(options.client, r, options.namespace),
          log: options.log,
          resyncMs: 0,
          ...options.informer,
        }),
      ] as const,
  );
  // status.endpoint (kubectl get bapi's ENDPOINT): the path the activator serves the API at, written
  // when it differs, so each replica writes a changed endpoint once and an unchanged one never
  for (const [kind, inf] of informers) {
    const r = kind === BATCH_KIND ? BATCH_APIS : TASK_APIS;
    const publish = (a: JobApiObject) => {
      const endpoint = endpointOf(a);
      if (a.metadata.deletionTimestamp || a.status?.endpoint === endpoint) return;
      const { name, namespace } = a.metadata;
      const patch = { apiVersion: `${GROUP}/${VERSION}`, kind, metadata: { name, namespace }, status: { endpoint } };
      options.client
        .apply(r, patch, { fieldManager: JOB_ENDPOINT_FIELD_MANAGER, force: true, subresource: 'status' })
        .catch((error: unknown) => {
          if (!isNotFound(error))
            options.log.warn('activator: could not write a job API status.endpoint', {
              api: `${a.metadata.namespace}/${a.metadata.name}`,
              error: errorMessage(error),
            });
        });
    };
    inf.on('add', publish).on('update', publish);
  }
  let synced!: () => void;
  const ready = new Promise<void>((resolve) => (synced = resolve));
  return {
    ready,
    list: () =>
      informers.flatMap(([kind, inf]) =>
        inf
          .list()
          .filter((a) => !a.metadata.deletionTimestamp)
          .map((a) => ({
            namespace: a.metadata.namespace,
            name: a.metadata.name,
            kind,
            endpoint: endpointOf(a),
            models: a.spec.predictor?.models,
          })),
      ),
    start() {
      for (const [, inf] of informers) inf.start();
      void Promise.all(informers.map(([, inf]) => inf.waitForSync())).then(() => synced());
    },
    async stop() {
      await Promise.all(informers.map(([, inf]) => inf.stop()));
    },
  };
}

/** An API's jobs as resources: created, read and stopped through the API server. */
export function kubeJobStores(client: KubeClient): JobStores {
  return (api) => {
    const jobs = jobsOf(api.kind);
    return {
      async submit(body) {
        const resource = jobResource(api.kind, api.name, api.namespace, body);
        return jobView(api.kind, await client.create<JobResource>(jobs, resource, JOB_ENDPOINT_FIELD_MANAGER));
      },
      async job(id) {
        try {
          const o = await client.get<JobResource>(jobs, api.namespace, id);
          // another API's job is not this endpoint's
          return o.spec.api === api.name ? jobView(api.kind, o) : undefined;
        } catch (error) {
          if (isNotFound(error)) return undefined;
          throw error;
        }
      },
      async stop(id, job) {
        if (JOB_DONE_WORDS.includes(job.status)) return `job ${id} had ended: ${job.status}`;
        try {
          await setJobStop(client, api.kind, api.namespace, id, JOB_ENDPOINT_FIELD_MANAGER);
        } catch (error) {
          // deleted since it was read
          if (isNotFound(error)) throw new JobEndpointError(404, `${api.name} has no job ${id}`);
          throw error;
        }
        return `stopping job ${id}: its workers are deleted and its status becomes stopped`;
      },
      // a dry run lists with the operator's credentials (this process's), as its enqueuer does
      // (batchjob-controller.ts), and creates nothing
      ...(api.kind === BATCH_KIND
        ? {
            plan: (body: unknown) => ({
              spec: parseBatchSubmission(api.name, body),
              endpoints: storageEndpoints(api.models),
            }),
          }
        : {}),
    };
  };
}
