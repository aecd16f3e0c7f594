// A resilient list+watch cache of one resource (client-go's reflector + informer, small):
// - lists (paginated), replaces the cache and reports what changed, then watches from the
//   list's resourceVersion with bookmarks, so reconnects resume where they left off;
// - 410 Gone (the resourceVersion is too old) → relist at once;
// - other errors → exponential backoff with jitter, then relist (never gives up);
// - the server ends each watch after a random 5–10 minutes (timeoutSeconds), and a watch on
//   which nothing arrives — not even a bookmark, which the API server sends about once a
//   minute — for idleTimeoutMs is aborted as dead and resumed;
// - every resyncMs, every cached object is reported again as an update (periodic resync), so
//   a reconcile that missed something is run again;
// - handlers only enqueue keys: one that throws is logged, never breaks the loop.

import { Backoff, sleep, type BackoffOptions } from './backoff.ts';
import {
  KubeError,
  type KubeClient,
  type KubeObject,
  type ListResult,
  type ResourceType,
  type WatchEvent,
  type WatchHandle,
} from '../kube/client.ts';
import { errorMessage } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';

/** Where an informer gets its objects: a list and a watch of one collection. */
export interface ListerWatcher<T> {
  /** One page; `signal` aborts it when the informer stops. */
  list(options: { limit: number; continue?: string }, signal?: AbortSignal): Promise<ListResult<T>>;
  /**
   * Starts a watch; `signal` aborts it, also while its answer has not come yet (a hung API
   * server sends no headers: without it the informer could neither stop nor reconnect).
   */
  watch(
    options: { resourceVersion: string; timeoutSeconds: number; allowWatchBookmarks: boolean },
    onEvent: (event: WatchEvent<T>) => void,
    signal?: AbortSignal,
  ): Promise<WatchHandle>;
}

/** A collection of `r` (all namespaces when namespace is undefined), optionally filtered. */
export function listerWatcher<T extends KubeObject>(
  client: KubeClient,
  r: ResourceType,
  namespace: string | undefined,
  selectors: { labelSelector?: string; fieldSelector?: string } = {},
): ListerWatcher<T> {
  return {
    list: (options, signal) => client.list<T>(r, namespace, { ...selectors, ...options }, undefined, { signal }),
    watch: (options, onEvent, signal) =>
      client.watch<T>(r, namespace, { ...selectors, ...options }, onEvent, undefined, signal),
  };
}

/** The cache key of an object: namespace/name, or name for cluster-scoped objects. */
export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name}` : String(obj.metadata?.name);
}

export interface InformerOptions<T> {
  /** For logs, e.g. "deployments". */
  name: string;
  source: ListerWatcher<T>;
  /** Server-side end of each watch: a random value in [min, 2·min). Default 300 s. */
  watchTimeoutSeconds?: number;
  /** Abort a watch on which nothing arrived for this long. Default 150 s. */
  idleTimeoutMs?: number;
  /** Report every cached object again this often; 0 disables. Default 10 min. */
  resyncMs?: number;
  /** Page size of lists. Default 500. */
  pageSize?: number;
  backoff?: Partial<BackoffOptions>;
  log?: Logger;
  /** Told each time a watch is started again after one ended (metrics). */
  onWatchRestart?: (reason: 'timeout' | 'expired' | 'error') => void;
}

type Handlers<T> = {
  add: ((obj: T) => void)[];
  update: ((obj: T, old: T) => void)[];
  delete: ((obj: T) => void)[];
};

export class Informer<T extends KubeObject> {
  readonly name: string;
  private readonly source: ListerWatcher<T>;
  private readonly cache = new Map<string, T>();
  private readonly handlers: Handlers<T> = { add: [], update: [], delete: [] };
  private readonly backoff: Backoff;
  private readonly options: Required<
    Pick<InformerOptions<T>, 'watchTimeoutSeconds' | 'idleTimeoutMs' | 'resyncMs' | 'pageSize'>
  >;
  private readonly log: Logger | undefined;
  private readonly onWatchRestart: InformerOptions<T>['onWatchRestart'];
  private readonly stopper = new AbortController();
  private running: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private syncedFlag = false;
  private goneInARow = 0;
  private readonly syncWaiters: (() => void)[] = [];
  /** Counts, for tests and debugging. */
  readonly stats = { lists: 0, watches: 0, relistsOnGone: 0, errors: 0, idleAborts: 0 };

  constructor(options: InformerOptions<T>) {
    this.name = options.name;
    this.source = options.source;
    this.options = {
      watchTimeoutSeconds: options.watchTimeoutSeconds ?? 300,
      idleTimeoutMs: options.idleTimeoutMs ?? 150_000,
      resyncMs: options.resyncMs ?? 600_000,
      pageSize: options.pageSize ?? 500,
    };
    this.backoff = new Backoff({ baseMs: 500, maxMs: 30_000, jitter: 0.2, ...options.backoff });
    this.log = options.log;
    this.onWatchRestart = options.onWatchRestart;
  }

  private restarted(reason: 'timeout' | 'expired' | 'error'): void {
    if (this.stopper.signal.aborted) return;
    try {
      this.onWatchRestart?.(reason);
    } catch {
      // metrics must not break the loop
    }
  }

  on(event: 'add', handler: (obj: T) => void): this;
  on(event: 'update', handler: (obj: T, old: T) => void): this;
  on(event: 'delete', handler: (obj: T) => void): this;
  on(event: keyof Handlers<T>, handler: (obj: T, old: T) => void): this {
    (this.handlers[event] as ((obj: T, old: T) => void)[]).push(handler);
    return this;
  }

  /** The cached object with this key (namespace/name). */
  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /** Whether the first list has completed. */
  get synced(): boolean {
    return this.syncedFlag;
  }

  /** Resolves once the first list has completed (or at once when stopped). */
  waitForSync(): Promise<void> {
    if (this.syncedFlag || this.stopper.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  start(): void {
    if (this.running) return;
    this.running = this.run();
    if (this.options.resyncMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), this.options.resyncMs);
    }
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    for (const resolve of this.syncWaiters.splice(0)) resolve();
    await this.running;
  }

  /** Reports every cached object as updated (to itself). */
  resync(): void {
    for (const obj of this.cache.values()) this.emit('update', obj, obj);
  }

  private async run(): Promise<void> {
    const signal = this.stopper.signal;
    // 410 right after a fresh list again and again would spin: from the second in a row, back off
    this.goneInARow = 0;
    while (!signal.aborted) {
      let resourceVersion: string;
      try {
        resourceVersion = await this.relist();
      } catch (error) {
        if (signal.aborted) return;
        await this.failed('list', error);
        continue;
      }
      // watch until the resourceVersion expires or something fails
      for (;;) {
        if (signal.aborted) return;
        let outcome: { next: 'watch'; resourceVersion: string } | { next: 'relist' };
        try {
          outcome = await this.watchOnce(resourceVersion);
        } catch (error) {
          if (signal.aborted) return;
          if (isGone(error)) {
            this.restarted('expired');
            this.stats.relistsOnGone++;
            this.log?.debug(`${this.name}: resourceVersion expired, relisting`);
            if (++this.goneInARow > 1) await sleep(this.backoff.next(), signal);
            break;
          }
          this.restarted('error');
          await this.failed('watch', error);
          break;
        }
        this.restarted(outcome.next === 'relist' ? 'expired' : 'timeout');
        if (outcome.next === 'relist') {
          if (++this.goneInARow > 1) await sleep(this.backoff.next(), signal);
          break;
        }
        resourceVersion = outcome.resourceVersion;
      }
    }
  }

  private async failed(what: string, error: unknown): Promise<void> {
    this.stats.errors++;
    const delay = this.backoff.next();
    this.log?.warn(`${this.name}: ${what} failed, retrying in ${delay} ms`, {
      error: errorMessage(error),
      attempt: this.backoff.attempts,
    });
    await sleep(delay, this.stopper.signal);
  }

  /** Lists every page, replaces the cache, reports the differences; returns the list's resourceVersion. */
  private async relist(): Promise<string> {
    this.stats.lists++;
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.source.list({ limit: this.options.pageSize, continue: cont }, this.stopper.signal);
      items.push(...page.items);
      cont = page.metadata.continue || undefined;
      resourceVersion = page.metadata.resourceVersion;
    } while (cont);
    if (this.stopper.signal.aborted) return resourceVersion;

    const seen = new Set<string>();
    for (const obj of items) {
      slim(obj);
      const key = objectKey(obj);
      seen.add(key);
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      if (!old) this.emit('add', obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit('update', obj, old);
    }
    for (const [key, old] of [...this.cache]) {
      if (seen.has(key)) continue;
      this.cache.delete(key);
      this.emit('delete', old);
    }
    if (!this.syncedFlag) {
      this.syncedFlag = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
    return resourceVersion;
  }

  /** One watch from `resourceVersion` until it ends; throws on errors (a KubeError 410 when expired). */
  private async watchOnce(
    resourceVersion: string,
  ): Promise<{ next: 'watch'; resourceVersion: string } | { next: 'relist' }> {
    this.stats.watches++;
    let rv = resourceVersion;
    let expired = false;
    let failure: unknown;
    let handle: WatchHandle | undefined;
    let abortRequested = false;
    // ends the watch whether or not it has started streaming (stop, idle, an ERROR event)
    const starting = new AbortController();
    const abort = () => {
      abortRequested = true;
      starting.abort();
      handle?.abort();
    };
    const onStop = () => abort();
    this.stopper.signal.addEventListener('abort', onStop, { once: true });
    let idle: NodeJS.Timeout | undefined;
    const armIdle = () => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => {
        this.stats.idleAborts++;
        this.log?.debug(`${this.name}: nothing received for ${this.options.idleTimeoutMs} ms, reconnecting`);
        abort();
      }, this.options.idleTimeoutMs);
    };
    const min = this.options.watchTimeoutSeconds;
    const timeoutSeconds = Math.floor(min * (1 + Math.random()));

    armIdle();
    try {
      const options = { resourceVersion: rv, timeoutSeconds, allowWatchBookmarks: true };
      handle = await this.source.watch(
        options,
        (event) => {
          if (abortRequested) return;
          armIdle();
          if (event.type !== 'ERROR') this.goneInARow = 0;
          switch (event.type) {
            case 'ADDED':
            case 'MODIFIED': {
              const obj = slim(event.object);
              const key = objectKey(obj);
              const old = this.cache.get(key);
              this.cache.set(key, obj);
              rv = obj.metadata?.resourceVersion ?? rv;
              if (old) this.emit('update', obj, old);
              else this.emit('add', obj);
              break;
            }
            case 'DELETED': {
              const obj = event.object;
              this.cache.delete(objectKey(obj));
              rv = obj.metadata?.resourceVersion ?? rv;
              this.emit('delete', obj);
              break;
            }
            case 'BOOKMARK':
              rv = event.object.metadata?.resourceVersion ?? rv;
              break;
            case 'ERROR': {
              const status = event.object as unknown as { code?: number; message?: string; reason?: string };
              if (status.code === 410 || status.reason === 'Expired' || status.reason === 'Gone') expired = true;
              else failure = new Error(`watch error event: ${status.message ?? JSON.stringify(status)}`);
              abort();
              break;
            }
          }
        },
        starting.signal,
      );
      if (abortRequested || this.stopper.signal.aborted) handle.abort();
      await handle.done;
    } catch (error) {
      if (!abortRequested) throw error; // aborted before it streamed: a normal end
    } finally {
      if (idle) clearTimeout(idle);
      this.stopper.signal.removeEventListener('abort', onStop);
    }
    if (expired) {
      this.stats.relistsOnGone++;
      this.log?.debug(`${this.name}: resourceVersion expired, relisting`);
      return { next: 'relist' };
    }
    if (failure) throw failure;
    // a watch the server ended (timeoutSeconds) or that was idle resumes from the last resourceVersion
    this.backoff.reset();
    return { next: 'watch', resourceVersion: rv };
  }

  private emit(event: keyof Handlers<T>, obj: T, old?: T): void {
    for (const handler of this.handlers[event]) {
      try {
        (handler as (obj: T, old?: T) => void)(obj, old);
      } catch (error) {
        this.log?.error(`${this.name}: ${event} handler failed`, { error: errorMessage(error) });
      }
    }
  }
}

function isGone(error: unknown): boolean {
  return error instanceof KubeError && error.code === 410;
}

/**
 * Drops what no reconciler reads but every object carries: managedFields (often the largest
 * part of an object) and kubectl's last-applied copy. With 1,000 APIs the caches hold 4,000
 * objects; this is most of the operator's memory beyond its code.
 */
function slim<T extends KubeObject>(obj: T): T {
  const meta = obj.metadata;
  if (meta !== undefined) {
    delete meta.managedFields;
    if (meta.annotations?.['kubectl.kubernetes.io/last-applied-configuration'] !== undefined) {
      delete meta.annotations['kubectl.kubernetes.io/last-applied-configuration'];
    }
  }
  return obj;
}
