// The job endpoint's HTTP handler on a real loopback server, with a store that keeps jobs in
// memory but checks submissions with the real parser (runtime/batch/submission.ts): what a
// client gets for each request, and which path is a job API's.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { jobPathRest, serveJobEndpoint, type JobStore } from './job-endpoint.ts';
import { jobResource, jobView, type JobResource } from './job-view.ts';
import { parseBatchSubmission } from '../runtime/batch/submission.ts';

describe('serveJobEndpoint', () => {
  const jobs = new Map<string, JobResource>();
  const stopped: string[] = [];
  const store: JobStore = {
    submit: async (body) => {
      const o = jobResource('BatchAPI', 'recorder', 'ml', body);
      jobs.set(o.metadata.name, o);
      return jobView('BatchAPI', o);
    },
    job: async (id) => (jobs.has(id) ? jobView('BatchAPI', jobs.get(id)!) : undefined),
    stop: async (id) => {
      stopped.push(id);
      return `stopping job ${id}`;
    },
    plan: (body) => ({ spec: parseBatchSubmission('recorder', body), endpoints: {} }),
  };
  // a TaskAPI's store: no dry run
  const taskStore: JobStore = { ...store, plan: undefined };
  let server: http.Server;
  let base: string;
  before(async () => {
    server = http.createServer((req, res) => {
      const [pathname, query = ''] = (req.url ?? '/').split('?');
      const task = pathname === '/task';
      const endpoint = task ? '/task' : '/recorder';
      const rest = jobPathRest(endpoint, pathname);
      const e = { api: task ? 'task' : 'recorder', endpoint, store: task ? taskStore : store, maxBodyBytes: 1000 };
      void serveJobEndpoint(e, req, res, rest ?? '', query);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());
  const call = async (method: string, url: string, body?: string) => {
    const r = await fetch(`${base}${url}`, { method, body });
    return { status: r.status, body: (await r.json()) as Record<string, unknown>, allow: r.headers.get('allow') };
  };

  test('POST submits and answers the job; GET ?jobID= and GET /<id> read it; DELETE stops it', async () => {
    const job = { workers: 2, item_list: { items: [1, 2, 3], batch_size: 2 }, config: { a: 1 } };
    const posted = await call('POST', '/recorder', JSON.stringify(job));
    assert.equal(posted.status, 200, JSON.stringify(posted.body));
    const id = String(posted.body.job_id);
    assert.match(id, /^recorder-[0-9a-z]+$/);
    assert.deepEqual(
      { ...posted.body, job_id: undefined },
      {
        job_id: undefined,
        api_name: 'recorder',
        kind: 'BatchAPI',
        workers: 2,
        config: { a: 1 },
        status: 'pending',
        created_time: '',
        batch_metrics: { total: 0, enqueued: 0, succeeded: 0, failed: 0 },
      },
    );
    for (const url of [`/recorder?jobID=${id}`, `/recorder/${id}`]) {
      const got = await call('GET', url);
      assert.equal(got.status, 200);
      assert.equal(got.body.endpoint, '/recorder');
      assert.equal((got.body.job_status as { job_id: string }).job_id, id);
    }
    const deleted = await call('DELETE', `/recorder?jobID=${id}`);
    assert.deepEqual(deleted, { status: 200, body: { message: `stopping job ${id}` }, allow: null });
    assert.deepEqual(stopped, [id]);
  });

  test('refusals: not JSON, a bad field, an id on POST, no id, an unknown job, too large, another method', async () => {
    const notJson = await call('POST', '/recorder', '{"workers": 1,');
    assert.equal(notJson.status, 400);
    assert.match(String(notJson.body.error), /^the job is not JSON: /);
    const bad = await call('POST', '/recorder', '{"workers": 1}');
    assert.equal(bad.status, 400);
    assert.match(
      String(bad.body.error),
      /^job submission: item_list: is required: the job's items are one of item_list, file_path_lister, delimited_files; fix: send "item_list"/,
    );
    assert.equal((await call('POST', '/recorder?jobID=x', '{}')).status, 400);
    const noId = await call('GET', '/recorder');
    assert.deepEqual(noId.body, {
      error: 'give the job: GET /recorder?jobID=<id> (POST /recorder answers the id)',
    });
    const unknown = await call('DELETE', '/recorder?jobID=nope');
    assert.deepEqual(
      { status: unknown.status, body: unknown.body },
      {
        status: 404,
        body: { error: 'recorder has no job nope' },
      },
    );
    const large = await call('POST', '/recorder', JSON.stringify({ workers: 1, config: { pad: 'x'.repeat(2000) } }));
    assert.deepEqual(
      { status: large.status, body: large.body },
      {
        status: 413,
        body: { error: 'the job is larger than 1000 bytes' },
      },
    );
    const put = await call('PUT', '/recorder');
    assert.equal(put.status, 405);
    assert.equal(put.allow, 'POST, GET, DELETE');
    assert.equal(jobs.size, 1); // only the first test's
    assert.equal(stopped.length, 1);
  });

  test('?dryRun=true checks the submission as POST does and creates no job', async () => {
    const before = jobs.size;
    const raw = async (url: string, body: string) => {
      const r = await fetch(`${base}${url}`, { method: 'POST', body });
      return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
    };
    // item_list: nothing to list; Cortex answered its last line alone
    const items = JSON.stringify({ workers: 1, item_list: { items: [1, 2], batch_size: 1 } });
    for (const value of ['true', '1', 'True']) {
      assert.deepEqual(await raw(`/recorder?dryRun=${value}`, items), {
        status: 200,
        type: 'text/plain; charset=utf-8',
        text: 'validations passed',
      });
    }
    // a bad submission: the JSON 400 a real POST gets
    const bad = await raw('/recorder?dryRun=true', '{"workers": 0}');
    assert.equal(bad.status, 400);
    assert.match(JSON.parse(bad.text).error as string, /^job submission: workers: must be a whole number from 1/);
    const notJson = await raw('/recorder?dryRun=true', '{');
    assert.equal(notJson.status, 400);
    assert.match(JSON.parse(notJson.text).error as string, /^the job is not JSON: /);
    const badPath = await raw(
      '/recorder?dryRun=true',
      JSON.stringify({ workers: 1, file_path_lister: { s3_paths: ['http://x/y'], batch_size: 1 } }),
    );
    assert.equal(badPath.status, 400);
    assert.match(JSON.parse(badPath.text).error as string, /file_path_lister\.s3_paths.*is not s3:\/\/bucket\/prefix/);
    // not a boolean (Go's ParseBool's words are)
    const maybe = await call('POST', '/recorder?dryRun=maybe', items);
    assert.deepEqual(
      { status: maybe.status, body: maybe.body },
      { status: 400, body: { error: "dryRun=maybe: write dryRun=true to list the job's files, or leave it out" } },
    );
    // false is a real submission
    const real = await call('POST', '/recorder?dryRun=false', items);
    assert.equal(real.status, 200);
    assert.equal(jobs.size, before + 1);
    jobs.delete(String(real.body.job_id));
    // a TaskAPI has no files to list
    const task = await call('POST', '/task?dryRun=true', '{"workers": 1}');
    assert.equal(task.status, 400);
    assert.match(String(task.body.error), /^dryRun lists the files of a BatchAPI job .*; task is a TaskAPI/);
    assert.equal(jobs.size, before);
  });
});

test('jobPathRest: the endpoint, its trailing slash and /<id> are the API’s; nothing else is', () => {
  assert.equal(jobPathRest('/recorder', '/recorder'), '');
  assert.equal(jobPathRest('/recorder', '/recorder/'), '');
  assert.equal(jobPathRest('/recorder', '/recorder/recorder-abc1'), '/recorder-abc1');
  assert.equal(jobPathRest('/recorder', '/recorder/a/b'), undefined);
  assert.equal(jobPathRest('/recorder', '/recorderx'), undefined);
  assert.equal(jobPathRest('/recorder', '/other'), undefined);
  assert.equal(jobPathRest('/jobs/nightly', '/jobs/nightly/x1'), '/x1');
  assert.equal(jobPathRest('/', '/'), '');
  assert.equal(jobPathRest('/', '/x1'), '/x1');
  assert.equal(jobPathRest('/', '/a/b'), undefined);
});
