// The replica of a pod API (spec.pod, Cortex 0.36-0.42's container format): the user's containers
// as written, plus `cortex proxy` from the runtime image in front of them. The Service and the
// activator reach the proxy on the runtime's port (8888), so they, the HPA and scale to zero work
// as for a predictor API; the metrics adapter scrapes the proxy's admin port (prometheus.io/port).

import type {
  V1Container,
  V1EnvVar,
  V1LifecycleHandler,
  V1Probe,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import {
  PROXY_CONTAINER_NAME,
  PROXY_PORTS,
  type ContainerSpec,
  type PodApiSpec,
  type PreStopSpec,
  type ProbeSpec,
} from '../api/v1alpha1/index.ts';
import { DRAIN_SECONDS, PRESTOP_SLEEP_SECONDS, RUNTIME_PORT, SPEC_HASH_ANNOTATION } from './deployment.ts';
import { canonicalJson, hashOf, type ChildConfig } from './types.ts';
import { addApiKeysVolume } from './api-keys.ts';

/** Shared by every container of a replica at /mnt, as Cortex did (files passed between containers). */
export const SHARED_VOLUME = 'cortex-mnt';
export const SHARED_DIR = '/mnt';

export function podApiTemplate(
  name: string,
  spec: PodApiSpec,
  config: ChildConfig,
): { containers: V1Container[]; volumes: V1Volume[]; annotations: Record<string, string> } {
  const { pod } = spec;
  const volumes: V1Volume[] = [{ name: SHARED_VOLUME, emptyDir: {} }];
  const containers = pod.containers.map((c, i) => {
    const shm = c.compute.shm !== undefined ? `shm-${i}` : undefined;
    if (shm !== undefined)
      volumes.push({ name: shm, emptyDir: { medium: 'Memory', sizeLimit: String(c.compute.shm) } });
    return userContainer(c, pod.port, config, shm);
  });
  const proxy = proxyContainer(name, spec, config);
  if (spec.networking.auth === 'api_key') {
    // the proxy checks the keys; the user's containers never see them
    const mounts: V1VolumeMount[] = [];
    const env: V1EnvVar[] = [];
    addApiKeysVolume(name, volumes, mounts, env);
    proxy.volumeMounts = mounts;
    proxy.env = env;
  }
  return {
    containers: [proxy, ...containers],
    volumes,
    annotations: {
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(PROXY_PORTS.admin),
      'prometheus.io/path': '/metrics',
      // what the replicas run, in one short value (kubectl diff, rollout history)
      [SPEC_HASH_ANNOTATION]: hashOf(canonicalJson({ pod, compute: spec.compute })),
    },
  };
}

function proxyContainer(name: string, spec: PodApiSpec, config: ChildConfig): V1Container {
  const { pod, compute } = spec;
  const requests: Record<string, string> = { cpu: String(compute.cpu) };
  const limits: Record<string, string> = {};
  if (compute.mem !== undefined) requests.memory = limits.memory = String(compute.mem);
  const admin = { path: '', port: 'admin' };
  return {
    name: PROXY_CONTAINER_NAME,
    image: config.runtimeImage,
    imagePullPolicy: config.imagePullPolicy,
    command: [
      'cortex',
      'proxy',
      '--api',
      name,
      '--port',
      String(RUNTIME_PORT),
      '--admin-port',
      String(PROXY_PORTS.admin),
      '--upstream-port',
      String(pod.port),
      '--max-concurrency',
      String(pod.maxConcurrency),
      '--max-queue-length',
      String(pod.maxQueueLength),
      '--grace-period',
      String(DRAIN_SECONDS),
    ],
    ports: [
      { name: 'http', containerPort: RUNTIME_PORT, protocol: 'TCP' },
      { name: 'admin', containerPort: PROXY_PORTS.admin, protocol: 'TCP' },
    ],
    resources: Object.keys(limits).length > 0 ? { requests, limits } : { requests },
    livenessProbe: {
      httpGet: { ...admin, path: '/healthz' },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
    // ready once the user's server accepts connections on pod.port; 503 while draining
    readinessProbe: {
      httpGet: { ...admin, path: '/readyz' },
      periodSeconds: 5,
      timeoutSeconds: 3,
      failureThreshold: 2,
    },
    // keep serving while endpoints catch up, then SIGTERM starts the proxy's drain
    lifecycle: { preStop: { sleep: { seconds: PRESTOP_SLEEP_SECONDS } } },
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

function userContainer(
  c: ContainerSpec,
  port: number,
  config: ChildConfig,
  shmVolume: string | undefined,
): V1Container {
  const env: V1EnvVar[] = Object.entries(c.env)
    .filter(([key]) => key !== 'CORTEX_PORT')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => ({ name: key, value: String(value) }));
  // what Cortex exported: the port to listen on, usable in command and args as $(CORTEX_PORT)
  env.push({ name: 'CORTEX_PORT', value: String(port) });
  const requests: Record<string, string> = { cpu: String(c.compute.cpu) };
  const limits: Record<string, string> = {};
  if (c.compute.mem !== undefined) requests.memory = limits.memory = String(c.compute.mem);
  if (c.compute.gpu > 0) limits[config.placement.gpuResource ?? 'nvidia.com/gpu'] = String(c.compute.gpu);
  return {
    name: c.name,
    image: c.image,
    command: c.command,
    args: c.args,
    env,
    resources: Object.keys(limits).length > 0 ? { requests, limits } : { requests },
    readinessProbe: c.readinessProbe && probe(c.readinessProbe),
    livenessProbe: c.livenessProbe && probe(c.livenessProbe),
    lifecycle: c.preStop && { preStop: handler(c.preStop) },
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts: [
      { name: SHARED_VOLUME, mountPath: SHARED_DIR },
      ...(shmVolume !== undefined ? [{ name: shmVolume, mountPath: '/dev/shm' }] : []),
    ],
  };
}

function handler(h: PreStopSpec | ProbeSpec): V1LifecycleHandler & Pick<V1Probe, 'tcpSocket'> {
  if (h.httpGet) return { httpGet: { port: h.httpGet.port, path: h.httpGet.path } };
  if ('tcpSocket' in h && h.tcpSocket) return { tcpSocket: { port: h.tcpSocket.port } };
  return { exec: { command: h.exec?.command } };
}

function probe(p: ProbeSpec): V1Probe {
  return {
    ...handler(p),
    initialDelaySeconds: p.initialDelaySeconds,
    timeoutSeconds: p.timeoutSeconds,
    periodSeconds: p.periodSeconds,
    successThreshold: p.successThreshold,
    failureThreshold: p.failureThreshold,
  };
}
