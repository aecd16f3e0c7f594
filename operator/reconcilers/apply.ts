// The apply step every child reconciler shares: server-side apply of the desired object with
// field manager cortex-operator (force: the operator is the authority on these fields), after
// checking the object is this API's (never take over someone else's Deployment), and, for
// fields set only at creation (onCreate), a create request under a separate field manager.

import { HttpMethod } from '@kubernetes/client-node';
import {
  KubeError,
  isNotFound,
  resourcePath,
  type KubeClient,
  type KubeObject,
  type ResourceType,
} from '../kube/client.ts';
import { REALTIME_APIS } from '../kube/resources.ts';
import { parseQuantity } from '../api/v1alpha1/quantity.ts';
import { isOwnedBy, type ApiInstance, type ChildConfig, type ChildReconciler } from './types.ts';

/** Field manager of every applied child (and the name in managedFields). */
export const FIELD_MANAGER = 'cortex-operator';
/**
 * Field manager of the create request: it keeps the create-only fields (replicas), which
 * cortex-operator never applies.
 */
export const CREATE_FIELD_MANAGER = 'cortex-operator-init';

/** A child exists but belongs to something else: the API cannot take its name. */
export class NotOwnedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotOwnedError';
  }
}

function describe(obj: KubeObject, kind: string): string {
  return `${kind} ${obj.metadata?.namespace}/${obj.metadata?.name}`;
}

function checkOwner(existing: KubeObject, api: ApiInstance, kind: string): void {
  if (isOwnedBy(existing, api.uid)) return;
  const previous = (existing.metadata?.ownerReferences ?? []).find(
    (r) => r.controller && r.kind === REALTIME_APIS.kind && r.name === api.name,
  );
  if (previous)
    throw new Error(
      `${describe(existing, kind)} of a deleted RealtimeAPI ${api.name} is still being removed; retrying`,
    );
  throw new NotOwnedError(
    `${describe(existing, kind)} already exists and is not controlled by this RealtimeAPI: ` +
      'delete it or give the API another name',
  );
}

export function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = isObject(cur) && isObject(v) ? deepMerge(cur, v) : v;
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Whether `actual` (the object as the server has it) already holds every field `desired` sets,
 * with the same values: then an apply would change nothing and is not sent (an operator that
 * restarts, or a periodic resync, writes nothing). Lists must have the same length, items are
 * compared in order; scalars by their text (1 and "1" are the same quantity). Anything the
 * server normalises differently only costs an apply that changes nothing.
 */
export function covers(actual: unknown, desired: unknown): boolean {
  return difference(actual, desired) === undefined;
}

/**
 * The first field (a path such as "spec.template.spec.containers.0.image") where `actual`
 * does not hold what `desired` sets; undefined when it holds everything. A top-level
 * apiVersion and kind are not compared (objects of a list carry neither).
 */
export function difference(actual: unknown, desired: unknown, path = ''): string | undefined {
  // the server omits empty lists and maps: [] or {} desired, nothing there, is the same
  if ((actual === undefined || actual === null) && path !== '' && isEmpty(desired)) return undefined;
  if (Array.isArray(desired)) {
    if (!Array.isArray(actual) || actual.length !== desired.length) return path || '.';
    for (let i = 0; i < desired.length; i++) {
      const d = difference(actual[i], desired[i], `${path}.${i}`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (isObject(desired)) {
    if (!isObject(actual)) return path || '.';
    for (const [k, v] of Object.entries(desired)) {
      if (v === undefined || (path === '' && (k === 'apiVersion' || k === 'kind'))) continue;
      const d = difference(actual[k], v, path ? `${path}.${k}` : k);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (desired === null) return actual === null || actual === undefined ? undefined : path;
  if (actual === undefined || actual === null || isObject(actual) || Array.isArray(actual)) return path;
  return String(actual) === String(desired) || sameQuantity(actual, desired) ? undefined : path;
}

function isEmpty(v: unknown): boolean {
  return (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
}

/** "0.1" and "100m" (the API server writes quantities in its canonical form). */
function sameQuantity(a: unknown, b: unknown): boolean {
  if (typeof a !== 'string' && typeof a !== 'number') return false;
  if (typeof b !== 'string' && typeof b !== 'number') return false;
  try {
    const x = parseQuantity(a);
    const y = parseQuantity(b);
    return Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
  } catch {
    return false;
  }
}

/** What applyChild did, for metrics and Events. */
export interface ApplyHooks {
  /** A write request was sent; `field`: the first field that differed from the cached object, if any. */
  wrote?(verb: 'create' | 'apply', field?: string): void;
  /** The child was created, or changed (a new resourceVersion). */
  changed?(how: 'created' | 'updated'): void;
}

/**
 * Makes the child match `reconciler.desired(api, config)` and returns the object as the server
 * answered (with its new generation). `existing` is the cached object, undefined when the
 * cache has none. `signal` aborts its requests (the reconcile was given up).
 */
export async function applyChild<T>(
  client: KubeClient,
  reconciler: ChildReconciler<T>,
  api: ApiInstance,
  config: ChildConfig,
  existing: KubeObject | undefined,
  hooks: ApplyHooks = {},
  signal?: AbortSignal,
): Promise<KubeObject> {
  const desired = reconciler.desired(api, config) as unknown as KubeObject;
  const { kind } = reconciler.resource;
  let created = false;
  let field: string | undefined;
  if (existing) {
    checkOwner(existing, api, kind);
    // up to date (nobody edited it, the spec did not change): nothing to send
    field = difference(existing, desired);
    if (field === undefined) return existing;
  } else {
    // not in the cache, which only holds objects labelled cortex.dev/api: an unlabelled object
    // of the same name must not be taken over by the forced apply below
    let found: KubeObject | undefined;
    try {
      found = await client.get(reconciler.resource, api.namespace, api.name, { signal });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    if (found) {
      checkOwner(found, api, kind);
    } else if (reconciler.onCreate) {
      try {
        hooks.wrote?.('create');
        await client.create(
          reconciler.resource,
          deepMerge(desired, reconciler.onCreate(api, config)) as KubeObject,
          CREATE_FIELD_MANAGER,
          { signal },
        );
        created = true;
      } catch (error) {
        if (!(error instanceof KubeError && error.code === 409)) throw error;
        checkOwner(await client.get(reconciler.resource, api.namespace, api.name, { signal }), api, kind);
      }
    } else {
      created = true; // the apply below creates it
    }
  }
  try {
    hooks.wrote?.('apply', field);
    const applied = await client.apply(reconciler.resource, desired, {
      fieldManager: FIELD_MANAGER,
      force: true,
      signal,
    });
    if (created && reconciler.onCreate) await releaseCreateFields(client, reconciler.resource, applied, signal);
    if (created) hooks.changed?.('created');
    else if (existing && applied?.metadata?.resourceVersion !== existing.metadata?.resourceVersion)
      hooks.changed?.('updated');
    return applied;
  } catch (error) {
    if (error instanceof KubeError && error.code === 422) {
      throw new Error(`the ${kind} for this API is invalid: ${error.serverMessage}`, { cause: error });
    }
    throw error;
  }
}

/**
 * The create request (an Update) made cortex-operator-init an owner of every field of the first
 * version, and the apply right after made cortex-operator a co-owner. A field that a later spec
 * leaves out would then stay for ever: server-side apply removes only fields no other manager
 * owns (a gRPC API's probes next to the HTTP ones, a GPU limit after the API moved to CPUs). So
 * the create manager's entry goes once the apply took over: the create-only fields (replicas)
 * are then owned by nobody until the HPA sets them, which is all onCreate needs. A JSON patch
 * that tests the entry first, so a concurrent write is never undone; if it lost a race the
 * entry is left (a later field removal may then be left too, and the reconcile logs nothing).
 */
async function releaseCreateFields(
  client: KubeClient,
  resource: ResourceType,
  applied: KubeObject,
  signal?: AbortSignal,
): Promise<void> {
  const entries = (applied.metadata?.managedFields ?? []) as { manager?: string }[];
  const index = entries.findIndex((m) => m.manager === CREATE_FIELD_MANAGER);
  if (index < 0) return;
  const path = `/metadata/managedFields/${index}`;
  try {
    await client.request(
      HttpMethod.PATCH,
      resourcePath(resource, applied.metadata?.namespace, applied.metadata?.name),
      {
        body: [
          { op: 'test', path: `${path}/manager`, value: CREATE_FIELD_MANAGER },
          { op: 'remove', path },
        ],
        contentType: 'application/json-patch+json',
        query: { fieldManager: FIELD_MANAGER },
        signal,
      },
    );
  } catch (error) {
    // 422: the entry moved (another writer came first); the object is right as it is
    if (!(error instanceof KubeError && error.code === 422)) throw error;
  }
}
