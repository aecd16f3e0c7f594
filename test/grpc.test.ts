// gRPC APIs (predictor.protobuf_path, docs/grpc.md) served by `cortex serve` as a process, called
// with a real gRPC client (@grpc/grpc-js, the .proto loaded with @grpc/proto-loader): the Python
// worker compiles the .proto (grpcio-tools, installed into the API's cached virtualenv on first use).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import { newKey } from '../operator/auth/keys.ts';
import { repoRoot, serve, serveFailure, waitFor, type Served } from './helpers/serve.ts';

const project = path.join(repoRoot, 'test', 'fixtures', 'grpc');
const INSTALL_MS = 300_000; // the first run installs grpcio-tools and protobuf into the venv cache

type Callback = (error: grpc.ServiceError | null, reply?: Record<string, unknown>) => void;
type Unary = (request: object, metadata: grpc.Metadata, callback: Callback) => grpc.ClientUnaryCall;
type Streaming = (request: object, metadata?: grpc.Metadata) => grpc.ClientReadableStream<Record<string, unknown>>;
type Client = grpc.Client & Record<string, Unary & Streaming>;

function clientOf(proto: string, service: string, port: number): Client {
  const pkg = grpc.loadPackageDefinition(loadSync(proto, { includeDirs: [project], keepCase: true, defaults: true }));
  // a loaded package's nested namespaces, down to the service's client class
  const Ctor = service.split('.').reduce((o: grpc.GrpcObject, k) => o[k] as grpc.GrpcObject, pkg);
  return new (Ctor as unknown as grpc.ServiceClientConstructor)(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as Client;
}

function grpcPort(s: Served): number {
  const line = s.logs().find((l) => typeof l.grpcPort === 'number');
  assert.ok(line, 'the replica logs its gRPC port');
  return line.grpcPort as number;
}

function unary(client: Client, method: string, request: object, metadata = new grpc.Metadata()) {
  return new Promise<{ error: grpc.ServiceError | null; reply?: Record<string, unknown>; trailers?: grpc.Metadata }>(
    (resolve) => {
      let result: { error: grpc.ServiceError | null; reply?: Record<string, unknown> } | undefined;
      const call = client[method](request, metadata, (error, reply) => (result = { error, reply }));
      call.on('status', (status: grpc.StatusObject) => resolve({ ...result!, trailers: status.metadata }));
    },
  );
}

function collect(stream: grpc.ClientReadableStream<Record<string, unknown>>) {
  return new Promise<{ items: Record<string, unknown>[]; at: number[]; status: grpc.StatusObject }>((resolve) => {
    const items: Record<string, unknown>[] = [];
    const at: number[] = [];
    stream.on('data', (item: Record<string, unknown>) => {
      items.push(item);
      at.push(Date.now());
    });
    stream.on('error', () => {});
    stream.on('status', (status: grpc.StatusObject) => resolve({ items, at, status }));
  });
}

describe('gRPC API (Cortex 0.34-0.35 Handler)', { concurrency: false }, () => {
  let s: Served;
  let echo: Client;
  before(async () => {
    s = await serve(project, { args: ['--api', 'echo', '--admin-port', '0'], timeoutMs: INSTALL_MS });
    echo = clientOf('protos/echo.proto', 'echo.Echo', grpcPort(s));
  });
  after(async () => {
    echo?.close();
    await s?.stop();
  });

  test('a unary RPC calls the method of its name (payload, context): metadata in, trailing metadata out', async () => {
    const md = new grpc.Metadata();
    md.set('x-who', 'tester');
    const { error, reply, trailers } = await unary(echo, 'Say', { text: 'hello' }, md);
    assert.equal(error, null);
    assert.deepEqual(reply, { text: 'HELLO', index: 0, who: 'tester', stamp: { by: 'handler' } });
    assert.deepEqual(trailers?.get('x-said'), ['hello']);
  });

  test('a server-streaming RPC: every reply in order, initial and trailing metadata, abort mid-stream', async () => {
    const call = echo.Count({ text: 'c', n: 4 });
    const initial = new Promise<grpc.Metadata>((resolve) => call.on('metadata', resolve));
    const { items, status } = await collect(call);
    assert.equal(status.code, grpc.status.OK);
    assert.deepEqual(
      items.map((i) => i.index),
      [0, 1, 2, 3],
    );
    assert.deepEqual((await initial).get('x-count'), ['4']);
    assert.deepEqual(status.metadata.get('x-counted'), ['4']);
    const aborted = await collect(echo.Count({ text: 'abort', n: 4 }));
    assert.equal(aborted.items.length, 2, 'the replies before the abort arrive');
    assert.equal(aborted.status.code, grpc.status.OUT_OF_RANGE);
    assert.equal(aborted.status.details, 'stopped at 2');
  });

  test('streamed replies arrive as they are yielded, not at the end', async () => {
    const started = Date.now();
    const { at, status } = await collect(echo.Tick({ n: 4 }));
    assert.equal(status.code, grpc.status.OK);
    assert.equal(at.length, 4);
    assert.ok(at[0] - started < 500, `first reply after ${at[0] - started} ms`);
    assert.ok(at[3] - at[0] >= 450, `replies spread over the generator's 200 ms pauses: ${at.map((t) => t - started)}`);
  });

  test('a client that cancels a stream closes the generator (GeneratorExit) and frees the worker', async () => {
    const call = echo.Tick({ text: 'cancelled', n: 1000 });
    call.on('error', () => {}); // CANCELLED, as asked
    await new Promise<void>((resolve) => call.once('data', () => resolve()));
    call.cancel();
    const closed = /tick cancelled: generator closed after (\d+) replies/;
    await waitFor('the generator closed', () => (closed.test(s.stdout()) ? true : undefined));
    const closedAfter = Number(closed.exec(s.stdout())![1]);
    assert.match(
      s.stdout(),
      /tick cancelled: generator closed after \d+ replies, active: False/,
      'context.is_active()',
    );
    assert.ok(closedAfter < 10, `closed after ${closedAfter} replies`);
    const { error } = await unary(echo, 'Say', { text: 'still serving' });
    assert.equal(error, null);
  });

  test('errors are status codes: an exception INTERNAL (logged), abort its code, a wrong return INTERNAL', async () => {
    const failed = await unary(echo, 'Fail', { text: 'x' });
    assert.equal(failed.error?.code, grpc.status.INTERNAL);
    assert.match(failed.error!.details, /internal server error/);
    assert.doesNotMatch(failed.error!.details, /cannot handle/, "the exception's text stays in the logs");
    const found = await unary(echo, 'Find', { text: 'unicorn' });
    assert.equal(found.error?.code, grpc.status.NOT_FOUND);
    assert.equal(found.error?.details, 'no such thing: unicorn');
    const wrong = await unary(echo, 'Wrong', {});
    assert.equal(wrong.error?.code, grpc.status.INTERNAL);
    for (const logged of [/ValueError: cannot handle x/, /Wrong returned a dict; rpc Wrong replies echo.Reply/]) {
      await waitFor(`${logged} in the log`, () => (logged.test(s.stdout()) ? true : undefined));
    }
  });

  test('bytes that are not the request message: INVALID_ARGUMENT', async () => {
    const raw = new grpc.Client(`127.0.0.1:${grpcPort(s)}`, grpc.credentials.createInsecure());
    const error = await new Promise<grpc.ServiceError | null>((resolve) =>
      raw.makeUnaryRequest(
        '/echo.Echo/Say',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x0a, 0x05, 0x61]), // field 1, length 5, one byte
        (e) => resolve(e),
      ),
    );
    raw.close();
    assert.equal(error?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(error!.details, /not a valid echo.Message/);
  });

  test('server reflection lists the service (grpcurl works without the .proto)', async () => {
    const proto = path.join(repoRoot, 'node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
    const pkg = grpc.loadPackageDefinition(loadSync(proto, { keepCase: true }));
    const v1 = ((pkg.grpc as grpc.GrpcObject).reflection as grpc.GrpcObject).v1 as grpc.GrpcObject;
    const Reflection = v1.ServerReflection as grpc.ServiceClientConstructor;
    const client = new Reflection(`127.0.0.1:${grpcPort(s)}`, grpc.credentials.createInsecure());
    const call = client.ServerReflectionInfo() as grpc.ClientDuplexStream<object, Record<string, unknown>>;
    const answer = new Promise<Record<string, unknown>>((resolve) => call.once('data', resolve));
    call.write({ list_services: '' });
    const services = ((await answer).list_services_response as { service: { name: string }[] }).service;
    call.end();
    client.close();
    assert.ok(
      services.some((x) => x.name === 'echo.Echo'),
      JSON.stringify(services),
    );
  });

  test('health service: SERVING for the server and the service; the admin port has readyz and metrics', async () => {
    const Health = grpc.makeGenericClientConstructor(healthService, 'Health');
    const health = new Health(`127.0.0.1:${grpcPort(s)}`, grpc.credentials.createInsecure()) as unknown as Record<
      string,
      (req: object, cb: (e: grpc.ServiceError | null, r: { status: string }) => void) => void
    >;
    const check = (service: string) =>
      new Promise<{ e: grpc.ServiceError | null; r?: { status: string } }>((resolve) =>
        health.check({ service }, (e, r) => resolve({ e, r })),
      );
    assert.equal((await check('')).r?.status, 'SERVING');
    assert.equal((await check('echo.Echo')).r?.status, 'SERVING');
    assert.equal((await check('other.Service')).e?.code, grpc.status.NOT_FOUND);
    (health as unknown as grpc.Client).close();

    assert.equal((await fetch(`${s.url}/readyz`)).status, 200);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /cortex_grpc_requests_total\{api="echo",grpc_method="Say",grpc_code="OK"\} [1-9]/);
    assert.match(metrics, /cortex_grpc_requests_total\{api="echo",grpc_method="Find",grpc_code="NOT_FOUND"\} 1/);
    assert.match(metrics, /cortex_requests_total\{api="echo",status_code="404"\} 1/);
    // the server-streaming calls so far, in the stream histograms as HTTP streams are
    assert.match(metrics, /cortex_stream_duration_seconds_count\{api="echo"\} [1-9]/);
    assert.match(metrics, /cortex_stream_first_byte_seconds_count\{api="echo"\} [1-9]/);
  });
});

describe('gRPC API with API keys, drained by SIGTERM', () => {
  test('authorization metadata is checked (UNAUTHENTICATED without a key), never seen by the predictor', async () => {
    const keys = mkdtempSync(path.join(tmpdir(), 'cortex-grpc-keys-'));
    const { key, record } = newKey('tester', {});
    writeFileSync(path.join(keys, 'tester'), JSON.stringify(record));
    const s = await serve(project, { args: ['--api', 'echo', '--admin-port', '0', '--api-keys', keys] });
    const echo = clientOf('protos/echo.proto', 'echo.Echo', grpcPort(s));
    try {
      const refused = await unary(echo, 'Say', { text: 'hi' });
      assert.equal(refused.error?.code, grpc.status.UNAUTHENTICATED);
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${key}`);
      md.set('x-who', 'keyholder');
      const allowed = await unary(echo, 'Say', { text: 'hi' }, md);
      assert.equal(allowed.error, null);
      assert.equal(allowed.reply?.who, 'keyholder', 'the predictor saw no authorization metadata');

      // SIGTERM: the health service turns NOT_SERVING, a stream in flight still ends whole
      const stream = echo.Tick({ text: 'drained', n: 4 }, md);
      const done = collect(stream);
      await new Promise<void>((resolve) => stream.once('data', () => resolve()));
      s.proc.kill('SIGTERM');
      const { items, status } = await done;
      assert.equal(status.code, grpc.status.OK);
      assert.equal(items.length, 4);
      assert.equal((await s.exited).code, 0);
    } finally {
      echo.close();
      await s.stop();
      rmSync(keys, { recursive: true, force: true });
    }
  });
});

describe('gRPC API (Cortex 0.33 PythonPredictor)', () => {
  test('predict serves the one RPC of the service; yielded messages stream back', async () => {
    const s = await serve(project, { args: ['--api', 'prime-generator', '--admin-port', '0'], timeoutMs: INSTALL_MS });
    const client = clientOf('generator.proto', 'prime_generator.Generator', grpcPort(s));
    try {
      const { items, status } = await collect(client.Predict({ prime_numbers_to_generate: 5 }));
      assert.equal(status.code, grpc.status.OK);
      assert.deepEqual(
        items.map((i) => Number(i.prime_number)),
        [2, 3, 5, 7, 11],
      );
    } finally {
      client.close();
      await s.stop();
    }
  });
});

test('an RPC with no method of its name fails the start, naming the RPC, the file and what to write', async () => {
  const error = await serveFailure(project, {
    args: ['--api', 'incomplete', '--admin-port', '0'],
    timeoutMs: INSTALL_MS,
  });
  assert.equal(error.code, 1);
  assert.match(
    error.out,
    /Handler in \S+incomplete\.py has no method Count for rpc Count of service incomplete\.Partial \(protos\/incomplete\.proto\): define def Count\(self, payload, context\)/,
  );
});
