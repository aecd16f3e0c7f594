// The activator as the operator starts it: the HTTP server (activator.ts) on the cluster's
// informers (kube-backend.ts), and the endpoints of BatchAPIs and TaskAPIs (job-front.ts). Every
// operator replica runs one; the Services of APIs without a ready replica point at the leader's
// (operator/scale-to-zero/slice.ts).

import { activatorAsyncFront } from './async-front.ts';
import { jobFront, kubeJobApis, kubeJobStores } from './job-front.ts';
import type { Registry } from 'prom-client';
import type { EventRecorder } from '../events.ts';
import type { KubeClient, KubeObject } from '../kube/client.ts';
import type { InformerOptions } from '../controller/informer.ts';
import type { Logger } from '../util/log.ts';
import { deferred, untilAborted, type Runnable } from '../manager/runnable.ts';
import type { ScaleToZeroStates } from '../scale-to-zero/loop.ts';
import { Activator } from './activator.ts';
import { kubeBackend } from './kube-backend.ts';
import type { CortexInformers } from '../controller/cortex-informers.ts';

export {
  Activator,
  DEFAULT_ACTIVATOR_PORT,
  DEFAULT_ACTIVATOR_TIMEOUT_MS,
  RETRY_AFTER_SECONDS,
  type Backend,
} from './activator.ts';
export { activatorRbac } from './kube-backend.ts';
export { API_HEADER, routeOf } from './route.ts';

export interface StartActivatorOptions {
  client: KubeClient;
  log: Logger;
  namespace?: string;
  port: number;
  /** Default: every address. */
  host?: string;
  timeoutMs: number;
  clusterDomain: string;
  registry?: Registry;
  events?: EventRecorder;
  states?: ScaleToZeroStates;
  informer?: Pick<InformerOptions<KubeObject>, 'idleTimeoutMs' | 'watchTimeoutSeconds' | 'backoff'>;
  /** Caches shared with the rest of the process; their owner starts and stops them. Default: its own. */
  informers?: CortexInformers;
  /** AsyncAPIs' queue (--queue-url): the activator queues their requests while they are at zero. */
  queueUrl?: string;
}

export interface RunningActivator {
  /** The bound port, once listening. */
  listening: Promise<number>;
  /** Requests held for an API now. */
  held(namespace: string, name: string): number;
  stop(): Promise<void>;
}

/** The activator as the operator's manager runs it: on every replica, from start(signal) until the signal aborts. */
export interface ActivatorRunnable extends Runnable {
  /** The bound port, once listening; rejects if it never will. */
  listening: Promise<number>;
  /** Requests held for an API now (0 before start). */
  held(namespace: string, name: string): number;
}

export function activatorRunnable(options: StartActivatorOptions): ActivatorRunnable {
  let running: RunningActivator | undefined;
  const listening = deferred<number>();
  listening.promise.catch(() => undefined); // its owner logs it
  return {
    name: 'activator',
    needsLeader: false,
    listening: listening.promise,
    held: (ns, name) => running?.held(ns, name) ?? 0,
    async start(signal) {
      running = startActivator(options);
      running.listening.then(listening.resolve, listening.reject);
      await untilAborted(signal);
      await running.stop();
    },
  };
}

export function startActivator(options: StartActivatorOptions): RunningActivator {
  const backend = kubeBackend(options);
  const asyncFront = options.queueUrl ? activatorAsyncFront(options.queueUrl) : undefined;
  const jobApis = kubeJobApis(options);
  const activator = new Activator({
    backend,
    asyncFront: asyncFront?.serve,
    jobs: jobFront(jobApis, kubeJobStores(options.client)),
    log: options.log,
    timeoutMs: options.timeoutMs,
    clusterDomain: options.clusterDomain,
    registry: options.registry,
  });
  backend.start();
  jobApis.start();
  const listening = activator.listen(options.port, options.host).then((port) => {
    options.log.info('activator listening', { port, host: options.host ?? '(all)', timeoutMs: options.timeoutMs });
    return port;
  });
  return {
    listening,
    held: (ns, name) => activator.held(ns, name),
    async stop() {
      await activator.close();
      await asyncFront?.close();
      await Promise.all([backend.stop(), jobApis.stop()]);
    },
  };
}
