// A small JSON client for the Kubernetes API on top of @kubernetes/client-node's KubeConfig
// (authentication: kubeconfig, in-cluster token, exec plugins, impersonation).
//
// Why not the typed APIs: their objects are deserialised into model classes (Dates, renamed
// fields), their patch calls default to strategic merge (415 on custom resources) and status
// subresources need per-call header options. Here every object stays plain JSON, server-side
// apply always sends application/apply-patch+yaml, and one undici dispatcher is reused for
// every request and watch (client-node 2.0 builds a new Agent per request otherwise).

import { Readable } from 'node:stream';
import { HttpMethod, IsomorphicFetchHttpLibrary, RequestContext, type KubeConfig } from '@kubernetes/client-node';

/** A Kubernetes object as plain JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerReference[];
    creationTimestamp?: string;
    deletionTimestamp?: string;
    managedFields?: unknown[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** A resource the operator reads or writes. */
export interface ResourceType {
  /** '' for the core group. */
  group: string;
  version: string;
  kind: string;
  plural: string;
}

/** The REST path of a collection (namespace undefined: all namespaces) or of one object. */
export function resourcePath(r: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  let p = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  if (namespace !== undefined) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${r.plural}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (subresource !== undefined) p += `/${subresource}`;
  return p;
}

/** An error answer of the API server: `code` is the HTTP status, `reason` the Status reason. */
export class KubeError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly status: Record<string, unknown> | undefined;

  constructor(method: string, path: string, code: number, body: string) {
    let status: Record<string, unknown> | undefined;
    try {
      status = JSON.parse(body) as Record<string, unknown>;
    } catch {
      status = undefined;
    }
    const message = typeof status?.message === 'string' ? status.message : body.slice(0, 500) || `HTTP ${code}`;
    super(`${method} ${path}: ${message}`);
    this.name = 'KubeError';
    this.code = code;
    this.reason = typeof status?.reason === 'string' ? status.reason : '';
    this.status = status;
  }

  /** The server's own message, without the method and path. */
  get serverMessage(): string {
    return typeof this.status?.message === 'string' ? this.status.message : this.message;
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof KubeError && error.code === 404;
}

export function isConflict(error: unknown): boolean {
  return error instanceof KubeError && error.code === 409;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export interface ListResult<T> {
  items: T[];
  metadata: { resourceVersion: string; continue?: string };
}

/** One watch event: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR (then `object` is a Status). */
export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface WatchOptions {
  resourceVersion: string;
  timeoutSeconds: number;
  allowWatchBookmarks: boolean;
  labelSelector?: string;
  fieldSelector?: string;
}

/** A running watch: `done` settles when the stream ends (resolves) or fails (rejects). */
export interface WatchHandle {
  abort(): void;
  done: Promise<void>;
}

/**
 * Cancellation of one request. Every request but a watch or a raw one ends after `timeoutMs`
 * (default: the client's, 30 s) so that a hung API server cannot hang its caller forever.
 */
export interface RequestOptions {
  /** Aborts the request (a stopping operator, a reconcile given up): it rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Rejects with a RequestTimeoutError when no whole answer arrived in this long. */
  timeoutMs?: number;
}

/** The default of KubeClientOptions.timeoutMs. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface KubeClientOptions {
  /** How long a request (not a watch) may take before it is aborted. Default 30 s. */
  timeoutMs?: number;
}

/** A request that got no whole answer within its timeout. */
export class RequestTimeoutError extends Error {
  readonly timeoutMs: number;

  constructor(method: string, path: string, timeoutMs: number) {
    super(`${method} ${path}: no answer within ${timeoutMs} ms`);
    this.name = 'RequestTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

export interface ApplyOptions extends RequestOptions {
  fieldManager: string;
  force?: boolean;
  /** 'status' to apply to the /status subresource. */
  subresource?: string;
  /** Validate and default without storing (dryRun=All): the answer is the object as it would be. */
  dryRun?: boolean;
}

export interface RawOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: Buffer;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export class KubeClient {
  readonly kc: KubeConfig;
  private readonly http = new IsomorphicFetchHttpLibrary();
  private dispatcher: unknown;
  private readonly timeoutMs: number;

  constructor(kc: KubeConfig, options: KubeClientOptions = {}) {
    this.kc = kc;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  private server(): string {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    return cluster.server.replace(/\/+$/, '');
  }

  /**
   * A request with authentication applied and the shared dispatcher; `accept`: another answer
   * format (metadata only, say).
   */
  private async context(
    method: HttpMethod,
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    accept = 'application/json',
  ): Promise<RequestContext> {
    const url = new URL(this.server() + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), method);
    ctx.setHeaderParam('Accept', accept);
    await this.kc.applySecurityAuthentication(ctx); // headers (tokens refresh) and a dispatcher...
    this.dispatcher ??= ctx.getDispatcher(); // ...of which the first is kept and reused
    if (this.dispatcher !== undefined)
      ctx.setDispatcher(this.dispatcher as Parameters<RequestContext['setDispatcher']>[0]);
    return ctx;
  }

  /**
   * Sends a request and parses the JSON answer; throws KubeError for 4xx/5xx, RequestTimeoutError
   * after the timeout, the signal's reason when it aborts.
   */
  async request<T>(
    method: HttpMethod,
    path: string,
    options: {
      query?: Record<string, string | number | boolean | undefined>;
      body?: unknown;
      contentType?: string;
      accept?: string;
    } & RequestOptions = {},
  ): Promise<T> {
    options.signal?.throwIfAborted();
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new RequestTimeoutError(method, path, timeoutMs)), timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout.signal]) : timeout.signal;
    try {
      const ctx = await this.context(method, path, options.query ?? {}, options.accept);
      ctx.setSignal(signal);
      if (options.body !== undefined) {
        ctx.setHeaderParam('Content-Type', options.contentType ?? 'application/json');
        ctx.setBody(JSON.stringify(options.body));
      }
      // the signal also ends the body's stream: a server that stops halfway times out as well
      const response = await this.http.send(ctx).toPromise();
      const text = await response.body.text();
      if (response.httpStatusCode >= 400) throw new KubeError(method, path, response.httpStatusCode, text);
      return (text === '' ? undefined : JSON.parse(text)) as T;
    } catch (error) {
      // fetch rejects with a DOMException of its own: name the cause instead
      if (signal.aborted) throw signal.reason;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  get<T extends KubeObject>(
    r: ResourceType,
    namespace: string | undefined,
    name: string,
    options: RequestOptions = {},
  ): Promise<T> {
    return this.request<T>(HttpMethod.GET, resourcePath(r, namespace, name), options);
  }

  list<T extends KubeObject>(
    r: ResourceType,
    namespace: string | undefined,
    options: ListOptions = {},
    accept?: string,
    request: RequestOptions = {},
  ): Promise<ListResult<T>> {
    return this.request<ListResult<T>>(HttpMethod.GET, resourcePath(r, namespace), {
      query: { ...options },
      accept,
      ...request,
    });
  }

  create<T extends KubeObject>(
    r: ResourceType,
    obj: T,
    fieldManager: string,
    options: { dryRun?: boolean } & RequestOptions = {},
  ): Promise<T> {
    return this.request<T>(HttpMethod.POST, resourcePath(r, obj.metadata?.namespace), {
      query: { fieldManager, fieldValidation: 'Strict', dryRun: options.dryRun ? 'All' : undefined },
      body: obj,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
  }

  /**
   * Server-side apply of `obj` (its apiVersion, kind, metadata.name/namespace name the target).
   * managedFields and resourceVersion are stripped: the first is rejected in apply bodies, the
   * second would turn the apply into a compare-and-swap.
   */
  apply<T extends KubeObject>(r: ResourceType, obj: T, options: ApplyOptions): Promise<T> {
    const body = structuredClone(obj);
    if (body.metadata) {
      delete body.metadata.managedFields;
      delete body.metadata.resourceVersion;
    }
    const name = body.metadata?.name;
    if (!name) throw new Error('apply: the object has no metadata.name');
    return this.request<T>(HttpMethod.PATCH, resourcePath(r, body.metadata?.namespace, name, options.subresource), {
      query: {
        fieldManager: options.fieldManager,
        force: options.force ? true : undefined,
        fieldValidation: 'Strict',
        dryRun: options.dryRun ? 'All' : undefined,
      },
      body,
      contentType: 'application/apply-patch+yaml', // JSON is YAML
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
  }

  /**
   * A request whose answer is not JSON (a service proxy's answer, a log): the status, the
   * headers and the body as bytes, whatever the status. No default timeout: a proxied request
   * takes as long as the service behind it does.
   */
  async raw(
    method: HttpMethod,
    path: string,
    options: RawOptions = {},
  ): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    const answer = await this.rawStream(method, path, options);
    const chunks: Uint8Array[] = [];
    for await (const chunk of answer.body) chunks.push(chunk);
    return { ...answer, body: Buffer.concat(chunks) };
  }

  /**
   * raw(), with the body as it arrives (`cortex predict` of a streaming API through the service
   * proxy, which passes a stream on as it comes).
   */
  async rawStream(
    method: HttpMethod,
    path: string,
    options: RawOptions = {},
  ): Promise<{ status: number; headers: Record<string, string>; body: AsyncIterable<Uint8Array> }> {
    const ctx = await this.context(method, path, options.query ?? {});
    if (options.signal) ctx.setSignal(options.signal);
    for (const [k, v] of Object.entries(options.headers ?? {})) ctx.setHeaderParam(k, v);
    if (options.body !== undefined) ctx.setBody(options.body as unknown as string);
    const response = await this.http.send(ctx).toPromise();
    // undici's web stream, which Node iterates
    const stream = response.body.stream() as unknown as AsyncIterable<Uint8Array> | null;
    return { status: response.httpStatusCode, headers: response.headers, body: stream ?? Readable.from([]) };
  }

  delete(
    r: ResourceType,
    namespace: string | undefined,
    name: string,
    propagationPolicy = 'Background',
    options: RequestOptions = {},
  ): Promise<unknown> {
    return this.request(HttpMethod.DELETE, resourcePath(r, namespace, name), {
      body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy },
      ...options,
    });
  }

  /**
   * Starts a watch of a collection (no timeout: the server ends it after options.timeoutSeconds,
   * the informer aborts it when idle). `onEvent` runs for each event line; the returned handle's
   * `done` resolves when the server ends the stream (timeoutSeconds) and rejects on errors
   * (a KubeError for an HTTP error answer, e.g. 410 when the resourceVersion is too old).
   */
  async watch<T>(
    r: ResourceType,
    namespace: string | undefined,
    options: WatchOptions,
    onEvent: (event: WatchEvent<T>) => void,
    accept?: string,
    signal?: AbortSignal,
  ): Promise<WatchHandle> {
    const path = resourcePath(r, namespace);
    signal?.throwIfAborted();
    const ctx = await this.context(HttpMethod.GET, path, { watch: true, ...options }, accept);
    const abort = new AbortController();
    // `signal` ends it too, before its answer came (a hung server) as well as while it streams
    ctx.setSignal(signal ? AbortSignal.any([abort.signal, signal]) : abort.signal);
    const response = await this.http.send(ctx).toPromise();
    if (response.httpStatusCode >= 400)
      throw new KubeError('WATCH', path, response.httpStatusCode, await response.body.text());
    const stream = response.body.stream() as ReadableStream<Uint8Array> | undefined;
    const done = (async () => {
      if (!stream) return;
      const decoder = new TextDecoder();
      let buffered = '';
      try {
        for await (const chunk of stream) {
          buffered += decoder.decode(chunk, { stream: true });
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line !== '') onEvent(JSON.parse(line) as WatchEvent<T>);
          }
        }
      } catch (error) {
        if (abort.signal.aborted || signal?.aborted) return; // ended by abort(): a normal end
        throw error;
      }
    })();
    return { abort: () => abort.abort(), done };
  }
}
