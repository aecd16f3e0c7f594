// Scale to zero (autoscaling.minReplicas 0), the operator's side: the loop that takes idle APIs
// to zero (loop.ts), the EndpointSlice that sends an API's Service traffic to the activator
// while it has no ready replica (slice.ts), and what the status says about it. The activator
// (operator/activator) holds those requests and wakes the API. docs/scale-to-zero.md has the
// whole picture.
//
// The RealtimeAPI controller owns one ScaleToZero: reconcile() runs in its reconcile of each API
// (after the Deployment), the slices' informer runs with its informers; the loop is a leader-only
// Runnable of the operator's manager, started after the controller (whose caches it reads).

import type { V1Deployment } from '@kubernetes/client-node';
import { Informer, listerWatcher, objectKey, type InformerOptions } from '../controller/informer.ts';
import type { EventRecorder } from '../events.ts';
import { isNotFound, type KubeClient, type KubeObject } from '../kube/client.ts';
import { ENDPOINT_SLICES, REALTIME_APIS } from '../kube/resources.ts';
import type { Logger } from '../util/log.ts';
import { untilAborted, type Runnable } from '../manager/runnable.ts';
import type { ApiActivity } from '../metrics-adapter/samples.ts';
import { applyChild, type ApplyHooks } from '../reconcilers/apply.ts';
import type { ApiInstance, ChildConfig, PolicyRule } from '../reconcilers/types.ts';
import { ScaleToZeroLoop, type ApiObject, type ScaleToZeroStates } from './loop.ts';
import { patchReplicas, replicasOf, replicasRbac, scaledToZeroAt, type Deployment } from './replicas.ts';
import { ACTIVATOR_SLICES_SELECTOR, activatorSliceReconciler, sliceRbac, type ActivatorEndpoint } from './slice.ts';

export { SCALED_TO_ZERO_ANNOTATION, patchReplicas, wake } from './replicas.ts';
export { desiredActivatorSlice, type ActivatorEndpoint } from './slice.ts';
export type { ScaleToZeroStates } from './loop.ts';

export const scaleToZeroRbac: PolicyRule[] = [...replicasRbac, ...sliceRbac];

/** What the status says of an API at zero (status.ts). */
export interface ScaledToZero {
  /** autoscaling.scaleToZeroAfter. */
  after: string;
  /** When the operator scaled it to zero; absent when it was created at zero (initReplicas 0). */
  since?: string;
}

/** What the operator is told (flags, the metrics adapter, the activator). */
export interface ScaleToZeroOptions {
  /** Where Services reach the activator; undefined: no API goes to zero (nothing could wake it). */
  activator?: ActivatorEndpoint;
  /** The metrics adapter's activity; undefined when the operator serves no metrics API. */
  activity?: (namespace: string, name: string) => ApiActivity | undefined;
  /** Requests the activator of this process holds. */
  held?: (namespace: string, name: string) => number;
  /** Shared with the activator of this process. */
  states?: ScaleToZeroStates;
  /** The loop's period. Default 2 s. */
  intervalMs?: number;
}

export interface ScaleToZeroDeps {
  client: KubeClient;
  log: Logger;
  namespace?: string;
  apis: Informer<ApiObject>;
  deployments: Informer<KubeObject>;
  events?: EventRecorder;
  enqueue: (key: string) => void;
  informer?: Pick<InformerOptions<KubeObject>, 'idleTimeoutMs' | 'watchTimeoutSeconds' | 'backoff'>;
  onWatchRestart?: (reason: string) => void;
}

export class ScaleToZero implements Runnable {
  readonly name = 'scale-to-zero loop';
  readonly needsLeader = true;
  /** The EndpointSlices this operator manages (labelled cortex.dev/api, managed by cortex-operator). */
  readonly slices: Informer<KubeObject>;
  readonly loop: ScaleToZeroLoop;
  private readonly deps: ScaleToZeroDeps;
  private readonly options: ScaleToZeroOptions;

  constructor(deps: ScaleToZeroDeps, options: ScaleToZeroOptions) {
    this.deps = deps;
    this.options = options;
    const { client, log, namespace } = deps;
    this.slices = new Informer<KubeObject>({
      name: 'activator endpointslices',
      source: listerWatcher(client, ENDPOINT_SLICES, namespace, { labelSelector: ACTIVATOR_SLICES_SELECTOR }),
      resyncMs: 0,
      log,
      onWatchRestart: deps.onWatchRestart,
      ...deps.informer,
    });
    // a slice edited or deleted by hand is put back (or removed) by its API's reconcile
    const owner = (o: KubeObject) =>
      (o.metadata?.ownerReferences ?? []).find((r) => r.controller && r.kind === REALTIME_APIS.kind)?.name;
    const enqueue = (o: KubeObject) => {
      const name = owner(o);
      if (name && o.metadata?.namespace) deps.enqueue(`${o.metadata.namespace}/${name}`);
    };
    this.slices.on('add', enqueue).on('update', enqueue).on('delete', enqueue);
    this.loop = new ScaleToZeroLoop({
      apis: () => deps.apis.list(),
      deployment: (key) => deps.deployments.get(key) as Deployment | undefined,
      activity: (ns, name) => options.activity?.(ns, name),
      held: (ns, name) => options.held?.(ns, name) ?? 0,
      scale: (d, replicas) => patchReplicas(client, d, replicas),
      states: options.states ?? new Map(),
      routable: options.activator !== undefined,
      log,
      events: deps.events,
      enqueue: deps.enqueue,
      intervalMs: options.intervalMs,
    });
  }

  /**
   * The activator's slice for this API: there while minReplicas is 0 and no replica is ready
   * (at zero, waking, or not started yet: requests wait in the activator instead of failing),
   * gone otherwise. Returns what the status should say when the API is at zero. `signal`: the
   * reconcile's.
   */
  async reconcile(
    api: ApiInstance,
    config: ChildConfig,
    deployment: V1Deployment | undefined,
    hooks: ApplyHooks = {},
    signal?: AbortSignal,
  ): Promise<ScaledToZero | undefined> {
    const key = `${api.namespace}/${api.name}`;
    const zeroAllowed = api.spec.autoscaling.minReplicas === 0;
    const route =
      zeroAllowed &&
      this.options.activator !== undefined &&
      deployment !== undefined &&
      (deployment.status?.readyReplicas ?? 0) === 0;
    const cached = this.slices.get(key);
    if (route) {
      const slice = activatorSliceReconciler(this.options.activator!);
      await applyChild(this.deps.client, slice, api, config, cached, hooks, signal);
    } else if (cached) {
      try {
        const name = objectKey(cached).split('/')[1];
        await this.deps.client.delete(ENDPOINT_SLICES, api.namespace, name, undefined, { signal });
        this.deps.log.debug('removed the activator EndpointSlice', { api: key });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    // without an activator nothing wakes it: the status must not promise that a request will
    if (this.options.activator === undefined) return undefined;
    if (!zeroAllowed || deployment === undefined || replicasOf(deployment) !== 0) return undefined;
    return { after: api.spec.autoscaling.scaleToZeroAfter, since: scaledToZeroAt(deployment) };
  }

  /** Runs the loop until `signal` aborts (the controller's caches must be synced). */
  async start(signal: AbortSignal): Promise<void> {
    this.loop.start();
    await untilAborted(signal);
    await this.loop.stop();
  }
}
