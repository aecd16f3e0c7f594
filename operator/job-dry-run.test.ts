// answerDryRun on a real loopback server, fed listings of any length (generators standing for
// listJobFiles, whose listing the scenario test runs against moto): the lines and last line a
// client reads, a 400 for the job's data error before the answer starts, and the error at the end
// of an answer already streamed.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { BucketItemsError } from '../runtime/batch/bucket-items.ts';
import { DRY_RUN_DONE, HOLD_BYTES, answerDryRun, parseBool } from './job-dry-run.ts';

type Listing = () => AsyncGenerator<string>;

describe('answerDryRun', () => {
  let listing: Listing;
  let thrown: unknown[] = [];
  let server: http.Server;
  let base: string;
  before(async () => {
    server = http.createServer((req, res) => {
      answerDryRun(res, listing()).catch((error: unknown) => {
        thrown.push(error);
        res.writeHead(500).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());
  const get = async (l: Listing) => {
    listing = l;
    thrown = [];
    const r = await fetch(base);
    return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
  };
  const urls = (n: number) => Array.from({ length: n }, (_, i) => `s3://bucket/images/img_${i}.jpg`);
  const fail = (error: Error, n: number): Listing =>
    async function* () {
      yield* urls(n);
      throw error;
    };

  test('a URL a line, then `validations passed`', async () => {
    const r = await get(async function* () {
      yield* urls(3);
    });
    assert.deepEqual(r, {
      status: 200,
      type: 'text/plain; charset=utf-8',
      text: `${urls(3).join('\n')}\n${DRY_RUN_DONE}`,
    });
  });

  test("the job's data error before the answer starts: 400 with the message alone", async () => {
    const r = await get(fail(new BucketItemsError('s3://nope/x: the bucket does not exist', 'check it'), 5));
    assert.deepEqual(r, {
      status: 400,
      type: 'text/plain; charset=utf-8',
      text: 's3://nope/x: the bucket does not exist; fix: check it\n',
    });
    // another error is not the client's: the caller answers it (500)
    assert.equal((await get(fail(new Error('boom'), 0))).status, 500);
    assert.equal((thrown[0] as Error).message, 'boom');
  });

  test('a listing longer than HOLD_BYTES is streamed; an error then ends it in place of the last line', async () => {
    const n = Math.ceil(HOLD_BYTES / urls(1)[0].length) + 1000;
    const whole = await get(async function* () {
      yield* urls(n);
    });
    assert.equal(whole.status, 200);
    assert.equal(whole.text, `${urls(n).join('\n')}\n${DRY_RUN_DONE}`);

    const broken = await get(
      fail(new BucketItemsError('file_path_lister.s3_paths: s3://b/none/: no object', 'fix'), n),
    );
    assert.equal(broken.status, 200);
    assert.equal(
      broken.text,
      `${urls(n).join('\n')}\n\nfile_path_lister.s3_paths: s3://b/none/: no object; fix: fix\n`,
    );
    assert.ok(!broken.text.includes(DRY_RUN_DONE));
  });
});

test("parseBool: Go's strconv.ParseBool, as Cortex read dryRun", () => {
  for (const t of ['1', 't', 'T', 'true', 'TRUE', 'True']) assert.equal(parseBool(t), true);
  for (const f of ['0', 'f', 'F', 'false', 'FALSE', 'False']) assert.equal(parseBool(f), false);
  for (const x of ['', 'yes', 'tRuE', '2']) assert.equal(parseBool(x), undefined);
});
