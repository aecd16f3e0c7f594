// A minimal Kubernetes client for the operator benchmark: JSON requests and watches over one
// keep-alive HTTPS agent with the admin kubeconfig's embedded certificates. Independent of
// operator/kube on purpose (the thing being measured is not used to measure it).
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parse } from 'yaml';

/** Kubernetes objects as the API server sends them: loosely-typed JSON the benchmark reads field by field. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- arbitrary API objects, read ad hoc
export type Obj = any;

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: Obj;
  /** performance.now() when the bytes of this event arrived. */
  at: number;
}

export interface Watch {
  close(): void;
}

export class KubeError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export class Kube {
  readonly server: URL;
  private readonly tls: { ca: Buffer; cert: Buffer; key: Buffer };
  private readonly agent: https.Agent;

  constructor(kubeconfigFile: string, maxSockets = 64) {
    const kc = parse(readFileSync(kubeconfigFile, 'utf8'));
    const cluster = kc.clusters[0].cluster;
    const user = kc.users[0].user;
    this.server = new URL(cluster.server);
    const b = (s: string) => Buffer.from(s, 'base64');
    this.tls = {
      ca: b(cluster['certificate-authority-data']),
      cert: b(user['client-certificate-data']),
      key: b(user['client-key-data']),
    };
    this.agent = new https.Agent({ keepAlive: true, maxSockets, ...this.tls });
  }

  request<T = Obj>(method: string, path: string, body?: unknown): Promise<T> {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = https.request(
        new URL(path, this.server),
        {
          method,
          agent: this.agent,
          headers: {
            Accept: 'application/json',
            ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(text ? JSON.parse(text) : undefined);
            else reject(new KubeError(status, `${method} ${path}: ${status} ${text.slice(0, 300)}`));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  }

  /** Watch `path` (a collection) from `resourceVersion`, calling `onEvent` per event. */
  watch(path: string, resourceVersion: string, onEvent: (e: WatchEvent) => void, onError: (err: Error) => void): Watch {
    const url = new URL(path, this.server);
    url.searchParams.set('watch', '1');
    url.searchParams.set('resourceVersion', resourceVersion);
    url.searchParams.set('timeoutSeconds', '3600');
    url.searchParams.set('allowWatchBookmarks', 'true');
    let closed = false;
    const fail = (err: Error) => {
      if (closed) return;
      closed = true;
      req.destroy();
      onError(err);
    };
    const req = https.request(
      url,
      { method: 'GET', agent: false, ...this.tls, headers: { Accept: 'application/json' } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          fail(new KubeError(res.statusCode ?? 0, `watch ${path}: ${res.statusCode}`));
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const at = performance.now();
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (!line.trim()) continue;
            const e = JSON.parse(line);
            if (e.type === 'ERROR') return fail(new Error(`watch ${path}: ${JSON.stringify(e.object).slice(0, 300)}`));
            if (!closed) onEvent({ type: e.type, object: e.object, at });
          }
        });
        res.on('end', () => fail(new Error(`watch ${path} ended`)));
        res.on('error', fail);
      },
    );
    req.on('error', fail);
    req.end();
    return {
      close: () => {
        closed = true;
        req.destroy();
      },
    };
  }

  /** Watches that ended or failed and were resumed (or relisted), over all listWatch calls. */
  restarts = 0;

  /**
   * List `path` then watch it from the list's resourceVersion, so no event after this call is
   * missed; a watch the server ends (timeout, "unresponsive watcher") is resumed from the last
   * resourceVersion seen, and relisted on 410 Gone (the relisted items arrive as ADDED again).
   */
  async listWatch(path: string, onEvent: (e: WatchEvent) => void, onError: (err: Error) => void): Promise<Watch> {
    let closed = false;
    let current: Watch | undefined;
    let rv = '';
    const list = async () => {
      const l = await this.request('GET', path);
      for (const object of l.items ?? []) onEvent({ type: 'ADDED', object, at: performance.now() });
      rv = l.metadata.resourceVersion;
    };
    const start = () => {
      if (closed) return;
      current = this.watch(
        path,
        rv,
        (e) => {
          if (e.object?.metadata?.resourceVersion) rv = e.object.metadata.resourceVersion;
          if (e.type !== 'BOOKMARK') onEvent(e);
        },
        (err) => {
          if (closed) return;
          current?.close();
          if (++this.restarts <= 5) process.stderr.write(`[bench] ${err.message}; resuming\n`);
          const gone = err instanceof KubeError ? err.status === 410 : /"code":410/.test(err.message);
          const again = gone ? list().then(start) : Promise.resolve().then(start);
          again.catch((e2: Error) => onError(e2));
        },
      );
    };
    await list();
    start();
    return {
      close: () => {
        closed = true;
        current?.close();
      },
    };
  }

  close(): void {
    this.agent.destroy();
  }
}
