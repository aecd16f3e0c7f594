// The activator's job endpoints with real HTTP on loopback: which requests reach a job API (named
// by X-Cortex-API or Host, or by the endpoint path alone), and what the others get. Jobs are kept
// in memory here (the real parser checks them); test/batch/batchjob.cluster-test.ts runs the
// resources on a real API server.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { jobResource, jobView, type JobResource } from '../job-view.ts';
import { silentLogger } from '../util/log.ts';
import { Activator, type Backend } from './activator.ts';
import { jobFront, type JobApiRef, type JobApis } from './job-front.ts';

/** No RealtimeAPI: every request is a job API's or nobody's. */
const noRealtime: Backend = {
  ready: Promise.resolve(),
  api: () => undefined,
  readyReplicas: () => [],
  runningReplicas: () => [],
  watch: () => () => undefined,
  wake: () => Promise.reject(new Error('nothing to wake')),
};

async function start(apis: JobApis, timeoutMs = 5000) {
  const jobs = new Map<string, JobResource>();
  const registry = new Registry();
  const activator = new Activator({
    backend: noRealtime,
    log: silentLogger,
    timeoutMs,
    registry,
    jobs: jobFront(apis, (api: JobApiRef) => ({
      submit: async (body) => {
        const o = jobResource(api.kind, api.name, api.namespace, body);
        jobs.set(`${api.namespace}/${o.metadata.name}`, o);
        return jobView(api.kind, o);
      },
      job: async (id) => {
        const o = jobs.get(`${api.namespace}/${id}`);
        return o && o.spec.api === api.name ? jobView(api.kind, o) : undefined;
      },
      stop: async (id) => `stopping job ${id}`,
    })),
  });
  const port = await activator.listen(0, '127.0.0.1');
  const call = async (method: string, url: string, headers: Record<string, string> = {}, body?: string) => {
    const r = await fetch(`http://127.0.0.1:${port}${url}`, { method, headers, body });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  return { activator, jobs, call, registry };
}

const API = (namespace: string, name: string, endpoint = `/${name}`, kind: JobApiRef['kind'] = 'BatchAPI') => ({
  namespace,
  name,
  kind,
  endpoint,
});
const JOB = JSON.stringify({ workers: 1, item_list: { items: [1, 2], batch_size: 1 } });

describe('the activator’s job endpoints', () => {
  let s: Awaited<ReturnType<typeof start>>;
  before(async () => {
    const list = [API('ml', 'recorder'), API('ml', 'trainer', '/train', 'TaskAPI'), API('other', 'trainer', '/train')];
    s = await start({ ready: Promise.resolve(), list: () => list });
  });
  after(() => s.activator.close());

  test('named by X-Cortex-API or Host: POST / or the endpoint creates, GET reads, DELETE stops', async () => {
    const named = { 'x-cortex-api': 'ml/recorder' };
    const posted = await s.call('POST', '/', named, JOB);
    assert.equal(posted.status, 200, JSON.stringify(posted.body));
    const id = String(posted.body.job_id);
    assert.ok(s.jobs.has(`ml/${id}`));
    const viaEndpoint = await s.call('POST', '/recorder', { host: 'recorder.ml.svc.cluster.local' }, JOB);
    assert.equal(viaEndpoint.status, 200, JSON.stringify(viaEndpoint.body));
    const got = await s.call('GET', `/?jobID=${id}`, named);
    assert.equal(got.status, 200);
    assert.equal((got.body.job_status as { job_id: string }).job_id, id);
    assert.equal(got.body.endpoint, '/recorder');
    assert.deepEqual((await s.call('DELETE', `/recorder/${id}`, named)).body, { message: `stopping job ${id}` });
    const task = await s.call('POST', '/train', { 'x-cortex-api': 'ml/trainer' }, '{"config": {"a": 1}}');
    assert.equal(task.body.kind, 'TaskAPI');
    const elsewhere = await s.call('GET', '/a/b', named);
    assert.equal(elsewhere.status, 404);
    assert.match(String(elsewhere.body.error), /\/a\/b is not a path of BatchAPI ml\/recorder: send \/recorder or \//);
  });

  test('named by neither: the endpoint path finds the API, unless several share it', async () => {
    const posted = await s.call('POST', '/recorder', {}, JOB);
    assert.equal(posted.status, 200, JSON.stringify(posted.body));
    assert.equal(posted.body.api_name, 'recorder');
    const ambiguous = await s.call('POST', '/train', {}, '{}');
    assert.equal(ambiguous.status, 404);
    assert.equal(
      ambiguous.body.error,
      '/train is the endpoint of several job APIs (ml/trainer, other/trainer): ' +
        'name the one with the header X-Cortex-API: <namespace>/<api>',
    );
    const nobody = await s.call('GET', '/nothing-here', {});
    assert.equal(nobody.status, 404);
    assert.match(String(nobody.body.error), /is not an API's Service name/);
  });

  test('a bad submission gets 400 naming the field; a job of another namespace is unknown', async () => {
    const bad = await s.call('POST', '/', { 'x-cortex-api': 'ml/recorder' }, '{"workers": 1, "item_list": {}}');
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.error), /^job submission: item_list\.items: must be a list of at least one item/);
    const posted = await s.call('POST', '/', { 'x-cortex-api': 'ml/recorder' }, JOB);
    const other = await s.call('GET', `/?jobID=${String(posted.body.job_id)}`, { 'x-cortex-api': 'other/trainer' });
    assert.equal(other.status, 404);
    assert.equal(other.body.error, `trainer has no job ${String(posted.body.job_id)}`);
    // the metrics count them as job requests, not as unknown APIs
    const text = await s.registry.metrics();
    assert.match(text, /cortex_operator_activator_requests_total\{result="job"\} [1-9]/);
  });

  test('an API neither realtime nor a job API keeps the 404 of an unknown API', async () => {
    const r = await s.call('GET', '/', { 'x-cortex-api': 'ml/nope' });
    assert.deepEqual(r, {
      status: 404,
      body: { error: 'no RealtimeAPI nope in namespace ml (named by X-Cortex-API "ml/nope")' },
    });
  });
});

test('job APIs not listed within the timeout: 503 saying so, with Retry-After', async () => {
  const s = await start({ ready: new Promise(() => undefined), list: () => [] }, 200);
  try {
    const r = await fetch(`http://127.0.0.1:${(s.activator.server.address() as AddressInfo).port}/recorder`, {
      method: 'POST',
      headers: { 'x-cortex-api': 'ml/recorder' },
      body: JOB,
    });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '10');
    assert.match(((await r.json()) as { error: string }).error, /could not list the BatchAPIs and TaskAPIs within/);
  } finally {
    await s.activator.close();
  }
});
