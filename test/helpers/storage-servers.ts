// Real storage servers on loopback for the model-download tests (issue 17): moto's S3 server
// (PyPI, signature v4, multipart uploads and their ETags), fake-gcs-server (Go module, GCS's JSON
// API) and a node:http server with Range requests that can also answer like the Hugging Face
// Hub. Each is installed once into ~/.cache (CI installs them the same way: pip and go install).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, renameSync, rmSync } from 'node:fs';
import http from 'node:http';
import { homedir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { freePort } from './local.ts';
import { ensurePypiTool } from './pypi-tool.ts';

export const MOTO_VERSION = '5.2.1';
export const FAKE_GCS_VERSION = 'v1.56.1';
export const S3_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_REGION: 'us-east-1',
};

export interface Server {
  url: string;
  stop(): Promise<void>;
}

async function waitForHttp(url: string, proc: ChildProcess, what: string): Promise<void> {
  try {
    await answers(url, proc, what);
  } catch (error) {
    proc.kill('SIGKILL'); // never left running by a test that failed to start it
    throw error;
  }
}

async function answers(url: string, proc: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited (${proc.exitCode}) before it answered`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${what} did not answer at ${url} within 60 s`);
}

function stopper(proc: ChildProcess): () => Promise<void> {
  return async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await gone;
  };
}

/**
 * moto's S3 server (`moto_server`), with S3_CREDENTIALS accepted. checkCredentials: moto checks
 * access keys and signatures as AWS does (INITIAL_NO_AUTH_ACTION_COUNT=0), so no key works.
 */
export async function startMoto(options: { checkCredentials?: boolean } = {}): Promise<Server & { s3: S3Client }> {
  const bin = await ensurePypiTool({
    command: 'moto_server',
    distribution: 'moto[server]',
    version: MOTO_VERSION,
    dirEnv: 'CORTEX_MOTO_DIR',
    checkVersion: false,
  });
  const port = await freePort();
  // the venv's python, not bin/moto_server: a console script's #! names the folder the venv was
  // built in, which ensurePypiTool renames
  const python = path.join(path.dirname(bin), 'python');
  const proc = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: 'ignore',
    env: { ...process.env, ...(options.checkCredentials ? { INITIAL_NO_AUTH_ACTION_COUNT: '0' } : {}) },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/moto-api/`, proc, 'moto_server');
  const s3 = new S3Client({
    endpoint: url,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  return { url, s3, stop: stopper(proc) };
}

export async function putS3(s3: S3Client, bucket: string, objects: Record<string, Buffer | string>): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch((e: Error) => {
    if (e.name !== 'BucketAlreadyOwnedByYou' && e.name !== 'BucketAlreadyExists') throw e;
  });
  for (const [key, body] of Object.entries(objects))
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

/** fake-gcs-server, `go install`ed into ~/.cache/cortex-fake-gcs-server/<version> when missing. */
export async function startFakeGcs(): Promise<
  Server & { put(bucket: string, objects: Record<string, Buffer | string>): Promise<void> }
> {
  const dir =
    process.env.CORTEX_FAKE_GCS_DIR ?? path.join(homedir(), '.cache', 'cortex-fake-gcs-server', FAKE_GCS_VERSION);
  const bin = path.join(dir, 'fake-gcs-server');
  if (!existsSync(bin)) {
    const building = `${dir}.building-${process.pid}`;
    process.stderr.write(`installing fake-gcs-server ${FAKE_GCS_VERSION} (go install) into ${dir}\n`);
    try {
      await execa('go', ['install', `github.com/fsouza/fake-gcs-server@${FAKE_GCS_VERSION}`], {
        env: { GOBIN: building, GOFLAGS: '-mod=mod' },
      });
      renameSync(building, dir);
    } catch (error) {
      rmSync(building, { recursive: true, force: true });
      if (!existsSync(bin)) {
        throw new Error(
          `could not go install fake-gcs-server ${FAKE_GCS_VERSION}: it needs Go and the Go module proxy: ` +
            (error as Error).message,
        );
      }
    }
  }
  const port = await freePort();
  const proc = spawn(
    bin,
    [
      '-scheme',
      'http',
      '-host',
      '127.0.0.1',
      '-port',
      String(port),
      '-backend',
      'memory',
      '-public-host',
      `127.0.0.1:${port}`,
      '-log-level',
      'error',
    ],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/storage/v1/b`, proc, 'fake-gcs-server');
  return {
    url,
    stop: stopper(proc),
    async put(bucket, objects) {
      await fetch(`${url}/storage/v1/b`, { method: 'POST', body: JSON.stringify({ name: bucket }) });
      for (const [name, body] of Object.entries(objects)) {
        const r = await fetch(
          `${url}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`,
          {
            method: 'POST',
            body,
          },
        );
        if (!r.ok) throw new Error(`fake-gcs-server upload of ${name}: HTTP ${r.status} ${await r.text()}`);
      }
    },
  };
}

export interface FileServer extends Server {
  files: Map<string, Buffer>;
  /** Requests seen: method, path and Range header. */
  requests: { method: string; path: string; range?: string }[];
  /** The next `times` GETs of this path send only `bytes` of the body, then drop the connection. */
  cut: Map<string, { bytes: number; times: number }>;
  /** Paths sent slowly: this many bytes every 100 ms. */
  throttle: Map<string, number>;
  /** When set, a request without `authorization: <this>` is answered 403. */
  authorization?: string;
}

/**
 * Files over HTTP with ETag and Range (206), like a CDN; also the Hugging Face Hub's two
 * endpoints for the repos under /hf/<org>/<model>/<file>: /api/models/<repo>/revision/<rev> and
 * /<repo>/resolve/<sha>/<file>.
 */
export async function startFileServer(): Promise<FileServer> {
  const files = new Map<string, Buffer>();
  const requests: FileServer['requests'] = [];
  const cut: FileServer['cut'] = new Map();
  const throttle = new Map<string, number>();
  let fs: FileServer | undefined;
  const etag = (b: Buffer) => `"${createHash('md5').update(b).digest('hex')}"`;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ method: req.method ?? '', path: url.pathname, range: req.headers.range });
    if (fs?.authorization !== undefined && req.headers.authorization !== fs.authorization) {
      return void res.writeHead(403).end('forbidden');
    }
    const hub = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    if (hub) {
      const repo = `/hf/${hub[1]}/`;
      const siblings = [...files]
        .filter(([p]) => p.startsWith(repo))
        .map(([p, b]) => ({ rfilename: p.slice(repo.length), size: b.length }));
      if (siblings.length === 0) return void res.writeHead(404).end('{"error":"Repository not found"}');
      const sha = createHash('sha1')
        .update(siblings.map((s) => s.rfilename + etag(files.get(repo + s.rfilename)!)).join())
        .digest('hex');
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ id: hub[1], sha, siblings }));
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/[0-9a-f]+\/(.+)$/.exec(url.pathname);
    const key = resolve ? `/hf/${resolve[1]}/${decodeURIComponent(resolve[2])}` : decodeURIComponent(url.pathname);
    const body = files.get(key);
    if (!body) return void res.writeHead(404).end('not found');
    const tag = etag(body);
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    const start = range && (ifRange === undefined || ifRange === tag) ? Number(range[1]) : 0;
    const headers = { etag: tag, 'accept-ranges': 'bytes', 'content-length': String(body.length - start) };
    if (req.method === 'HEAD') return void res.writeHead(200, headers).end();
    res.writeHead(
      start > 0 ? 206 : 200,
      start > 0 ? { ...headers, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : headers,
    );
    const cutting = cut.get(key);
    if (cutting !== undefined && req.method === 'GET') {
      if (--cutting.times <= 0) cut.delete(key);
      // the connection drops a moment after these bytes went out (as a network failure does),
      // so the client has them: what a resume must not fetch again
      res.write(body.subarray(start, start + cutting.bytes), () => setTimeout(() => res.destroy(), 50));
      return;
    }
    const rate = throttle.get(key);
    if (rate === undefined) return void res.end(body.subarray(start));
    let at = start;
    const timer = setInterval(() => {
      res.write(body.subarray(at, at + rate));
      at += rate;
      if (at >= body.length) {
        clearInterval(timer);
        res.end();
      }
    }, 100);
    res.once('close', () => clearInterval(timer));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  fs = {
    url: `http://127.0.0.1:${port}`,
    files,
    requests,
    cut,
    throttle,
    stop: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return fs;
}
