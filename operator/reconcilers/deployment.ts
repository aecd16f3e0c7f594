// The API's Deployment: the replicas that run `cortex serve` on the project, or for a pod API
// the user's containers behind `cortex proxy` (pod.ts).

import type { V1Container, V1Deployment, V1EnvVar, V1PodSpec, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { BUNDLE_KEY, isPodApi, predictorOf } from '../api/v1alpha1/index.ts';
import { DEPLOYMENTS } from '../kube/resources.ts';
import {
  API_LABEL,
  canonicalJson,
  childMetadata,
  hashOf,
  labelsFor,
  ruleOn,
  type ApiInstance,
  type ChildConfig,
  type ChildReconciler,
  type PolicyRule,
} from './types.ts';
import { RUNTIME_SPEC_ENV, runtimeApi } from './runtime-spec.ts';
import { podApiTemplate } from './pod.ts';
import { addApiKeysVolume } from './api-keys.ts';
import { GRPC_ADMIN_PORT, grpcContainer } from './grpc.ts';
import { modelStorage } from './model-storage.ts';

/** Port `cortex serve` listens on in every replica. */
export const RUNTIME_PORT = 8888;
/**
 * Where the project (the predictor and its files) is in the container. The runtime's settings
 * come from the RealtimeAPI (CORTEX_API_SPEC, runtime-spec.ts), not from a cortex.yaml there.
 */
export const PROJECT_DIR = '/mnt/project';
/** Where the bundle's ConfigMaps are mounted before being unpacked into PROJECT_DIR. */
export const BUNDLE_DIR = '/mnt/bundle';
/**
 * Where the node's dependency cache (OperatorConfig.dependencyCache, a hostPath) is mounted; the
 * runtime keeps its virtualenvs there (CORTEX_CACHE_DIR, runtime/venv-cache.ts).
 */
export const DEPENDENCY_CACHE_DIR = '/var/cache/cortex';
/**
 * The cache's init container: a hostPath folder is made by the kubelet as root, 0755. Made
 * world-writable with the sticky bit (as /tmp), replicas of any image and user can share it, and
 * none can remove what another user installed.
 */
const CACHE_VENVS_DIR = `${DEPENDENCY_CACHE_DIR}/venvs`;
/** The same node cache holds downloaded models (runtime/storage/cache.ts). */
const CACHE_MODELS_DIR = `${DEPENDENCY_CACHE_DIR}/models`;
export const CACHE_PERMISSIONS_SCRIPT = [
  `mkdir -p ${CACHE_VENVS_DIR} ${CACHE_MODELS_DIR}`,
  `chmod 1777 ${DEPENDENCY_CACHE_DIR} ${CACHE_VENVS_DIR} ${CACHE_MODELS_DIR}`,
].join(' && ');
/** The runtime's drain time after SIGTERM (cortex serve --grace-period). */
export const DRAIN_SECONDS = 30;
/**
 * Seconds a terminating replica keeps serving before it receives SIGTERM: endpoints controllers
 * and kube-proxy (or the gateway) take a moment to stop sending it requests.
 */
export const PRESTOP_SLEEP_SECONDS = 5;
/** preStop sleep + the runtime's drain + a margin for the workers to exit. */
export const TERMINATION_GRACE_SECONDS = PRESTOP_SLEEP_SECONDS + DRAIN_SECONDS + 5;
/** Pod template annotations. */
export const SPEC_HASH_ANNOTATION = 'cortex.dev/spec-sha256';
export const BUNDLE_HASH_ANNOTATION = 'cortex.dev/bundle-sha256';

/** The runtime's container in every replica (cortex logs reads it). */
export const CONTAINER_NAME = 'api';
const CONTAINER = CONTAINER_NAME;

export const deploymentRbac: PolicyRule[] = [
  // create: the first version (with replicas) is created, never applied; patch: server-side apply
  ruleOn(DEPLOYMENTS, ['get', 'list', 'watch', 'create', 'patch']),
];

/** The name of the file a bundle chunk gets in BUNDLE_DIR; zero-padded so that a glob sorts them in order. */
export function bundlePart(index: number): string {
  return `part-${String(index).padStart(3, '0')}`;
}

/** The init container's script: join the chunks, check the hash, unpack. */
export const UNPACK_SCRIPT = [
  'set -eu',
  `cat ${BUNDLE_DIR}/part-* > ${PROJECT_DIR}/.bundle.tgz`,
  `echo "$CORTEX_BUNDLE_SHA256  ${PROJECT_DIR}/.bundle.tgz" | sha256sum -c - >/dev/null || ` +
    '{ echo "the bundle does not match predictor.bundle.sha256 $CORTEX_BUNDLE_SHA256: redeploy the API" ' +
    '> /dev/termination-log; exit 1; }',
  `tar -xzf ${PROJECT_DIR}/.bundle.tgz -C ${PROJECT_DIR}`,
  `rm ${PROJECT_DIR}/.bundle.tgz`,
].join('\n');

function quantity(v: string | number): string {
  return String(v);
}

/** Requests and limits of the API container from spec.compute and the pool's GPU resource. */
export function resourcesFor(api: ApiInstance, config: ChildConfig): NonNullable<V1Container['resources']> {
  const { cpu, mem, gpu } = api.spec.compute;
  const requests: Record<string, string> = { cpu: quantity(cpu) };
  const limits: Record<string, string> = {};
  if (mem !== undefined) {
    // memory limit = request: a replica over it is OOMKilled (→ "error (out of memory)") rather
    // than starving its neighbours. CPU has no limit: throttling only makes latency worse.
    requests.memory = quantity(mem);
    limits.memory = quantity(mem);
  }
  if (gpu > 0) {
    // extended resources are requested through limits (the request defaults to the limit)
    limits[config.placement.gpuResource ?? 'nvidia.com/gpu'] = String(gpu);
  }
  return Object.keys(limits).length > 0 ? { requests, limits } : { requests };
}

/**
 * One entry per name, the last one kept: the operator's own variables win over a predictor.env
 * entry of the same name, and server-side apply (env is a list keyed by name) gets no duplicates.
 */
function lastOfEachName(env: V1EnvVar[]): V1EnvVar[] {
  const last = new Map(env.map((e) => [e.name, e]));
  return env.filter((e) => last.get(e.name) === e);
}

/** Where `cortex serve` and the operator read the queue's URL from. */
export const QUEUE_URL_ENV = 'CORTEX_QUEUE_URL';

/** The RealtimeAPI as the replica's runtime reads it (CORTEX_API_SPEC), as JSON. */
export function runtimeSpecJson(api: ApiInstance): string {
  // keys sorted: the API server's key order must not change the template (and roll the replicas)
  return canonicalJson(runtimeApi(api.name, api.spec));
}

export function desiredDeployment(api: ApiInstance, config: ChildConfig): V1Deployment {
  if (isPodApi(api.spec)) {
    const { containers, volumes, annotations } = podApiTemplate(api.name, api.spec, config);
    return deploymentOf(api, config, { containers, volumes }, annotations);
  }
  const predictor = predictorOf(api.spec, 'the Deployment of a predictor API');
  const image =
    predictor.image ??
    (api.spec.compute.gpu > 0 && config.gpuRuntimeImage ? config.gpuRuntimeImage : config.runtimeImage);
  const bundle = predictor.bundle;

  const env: V1EnvVar[] = Object.entries(predictor.env)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => ({ name, value: String(value) }));
  // what `cortex serve` runs (last, so that it wins over a predictor.env entry of the same name)
  const runtimeSpec = runtimeSpecJson(api);
  env.push({ name: RUNTIME_SPEC_ENV, value: runtimeSpec });
  if (api.spec.async && config.queueUrl) {
    // an AsyncAPI's replicas work its queue and answer its front (docs/async.md); its streams are
    // named after the namespace, so two namespaces' APIs of one name never share a queue
    env.push({ name: QUEUE_URL_ENV, value: config.queueUrl }, { name: 'CORTEX_QUEUE_SCOPE', value: api.namespace });
  }

  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  const initContainers: V1Container[] = [];
  const cache = config.dependencyCache;
  if (cache) {
    volumes.push({ name: 'dependency-cache', hostPath: { path: cache.hostPath, type: 'DirectoryOrCreate' } });
    mounts.push({ name: 'dependency-cache', mountPath: DEPENDENCY_CACHE_DIR });
    env.push(
      { name: 'CORTEX_CACHE_DIR', value: DEPENDENCY_CACHE_DIR },
      { name: 'CORTEX_CACHE_MAX_SIZE', value: cache.maxSize },
    );
    initContainers.push({
      name: 'dependency-cache',
      image,
      imagePullPolicy: config.imagePullPolicy,
      command: ['sh', '-c', CACHE_PERMISSIONS_SCRIPT],
      securityContext: { runAsUser: 0, runAsNonRoot: false },
      volumeMounts: [{ name: 'dependency-cache', mountPath: DEPENDENCY_CACHE_DIR }],
    });
  }
  if (bundle) {
    volumes.push(
      {
        name: 'bundle',
        projected: {
          sources: bundle.configMaps.map((name, i) => ({
            configMap: { name, items: [{ key: BUNDLE_KEY, path: bundlePart(i) }] },
          })),
        },
      },
      { name: 'project', emptyDir: {} },
    );
    mounts.push({ name: 'project', mountPath: PROJECT_DIR });
    initContainers.push({
      name: 'unpack-bundle',
      image,
      imagePullPolicy: config.imagePullPolicy,
      command: ['sh', '-c', UNPACK_SCRIPT],
      env: [{ name: 'CORTEX_BUNDLE_SHA256', value: bundle.sha256 }],
      volumeMounts: [
        { name: 'bundle', mountPath: BUNDLE_DIR, readOnly: true },
        { name: 'project', mountPath: PROJECT_DIR },
      ],
      terminationMessagePolicy: 'FallbackToLogsOnError',
    });
  }

  if (api.spec.networking.auth === 'api_key') addApiKeysVolume(api.name, volumes, mounts, env);
  const storage = modelStorage(predictor.models);
  volumes.push(...storage.volumes);
  mounts.push(...storage.mounts);

  const container: V1Container = {
    name: CONTAINER,
    image,
    imagePullPolicy: config.imagePullPolicy,
    command: [
      'cortex',
      'serve',
      PROJECT_DIR,
      '--api',
      api.name,
      '--port',
      String(RUNTIME_PORT),
      '--grace-period',
      String(DRAIN_SECONDS),
    ],
    ports: [{ name: 'http', containerPort: RUNTIME_PORT, protocol: 'TCP' }],
    env: lastOfEachName(env),
    // models.storage.secret: its keys (AWS_ACCESS_KEY_ID, HF_TOKEN...) as the runtime's environment,
    // read by the downloader; the spec holds only the Secret's name
    envFrom: storage.envFrom,
    resources: resourcesFor(api, config),
    // /healthz answers as soon as the server listens; dependencies install before that, so the
    // startup probe gives them up to 30 minutes before liveness takes over
    startupProbe: {
      httpGet: { path: '/healthz', port: 'http' },
      periodSeconds: 5,
      timeoutSeconds: 3,
      failureThreshold: 360,
    },
    livenessProbe: {
      httpGet: { path: '/healthz', port: 'http' },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
    // /readyz: 200 only once every worker finished __init__, 503 while draining
    readinessProbe: {
      httpGet: { path: '/readyz', port: 'http' },
      periodSeconds: 5,
      timeoutSeconds: 3,
      failureThreshold: 2,
    },
    // keep serving while endpoints catch up, then SIGTERM starts the runtime's drain
    lifecycle: { preStop: { sleep: { seconds: PRESTOP_SLEEP_SECONDS } } },
    // a failed __init__ writes its last traceback line to /dev/termination-log; else the log's tail
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts: mounts.length > 0 ? mounts : undefined,
  };

  const grpc = predictor.protobufPath !== undefined ? grpcContainer(RUNTIME_PORT) : undefined;
  if (grpc) {
    const { args, ...parts } = grpc;
    container.command!.push(...args);
    Object.assign(container, parts);
  }
  const annotations: Record<string, string> = {
    'prometheus.io/scrape': 'true',
    'prometheus.io/port': String(grpc ? GRPC_ADMIN_PORT : RUNTIME_PORT),
    'prometheus.io/path': '/metrics',
    // the runtime's settings are in CORTEX_API_SPEC, so a change of them changes the template
    // anyway; the hash says so in one short value (kubectl diff, rollout history), and a new
    // bundle under the same ConfigMap names changes predictor.bundle.sha256 with it
    [SPEC_HASH_ANNOTATION]: hashOf(runtimeSpec),
  };
  if (bundle) annotations[BUNDLE_HASH_ANNOTATION] = bundle.sha256;
  return deploymentOf(
    api,
    config,
    {
      containers: [container],
      initContainers: initContainers.length > 0 ? initContainers : undefined,
      volumes: volumes.length > 0 ? volumes : undefined,
    },
    annotations,
  );
}

/** The Deployment around a replica's containers and volumes: placement, spreading, rollout, labels. */
export function deploymentOf(
  api: ApiInstance,
  config: ChildConfig,
  parts: Pick<V1PodSpec, 'containers' | 'initContainers' | 'volumes'>,
  annotations: Record<string, string>,
): V1Deployment {
  const { updateStrategy } = api.spec;
  const labels = labelsFor(api);
  const { placement } = config;
  const podSpec: V1PodSpec = {
    ...parts,
    terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
    enableServiceLinks: false,
    nodeSelector: placement.nodeSelector,
    affinity: placement.affinity,
    tolerations: placement.tolerations.length > 0 ? placement.tolerations : undefined,
    // spread replicas over nodes when possible, so one node going away leaves the API up
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: { [API_LABEL]: api.name } },
      },
    ],
  };

  // `replicas` is deliberately absent. The HPA owns it once the Deployment exists: it writes
  // spec.replicas through the scale subresource. Had this apply (field manager
  // cortex-operator) ever set replicas, every later apply would either reset the HPA's choice
  // (forced conflict) or, once the field was left out, delete it (→ 1 replica) while this
  // manager still owned it. So initReplicas is set only by the create request (onCreate,
  // field manager cortex-operator-init, an Update operation): this manager never owns
  // replicas, leaving out the field never touches it, and the HPA takes it over.
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMetadata(api),
    spec: {
      selector: { matchLabels: { [API_LABEL]: api.name } },
      strategy: {
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: updateStrategy.maxSurge, maxUnavailable: updateStrategy.maxUnavailable },
      },
      revisionHistoryLimit: 5,
      progressDeadlineSeconds: 600,
      template: { metadata: { labels, annotations }, spec: podSpec },
    },
  };
}

export const deploymentReconciler: ChildReconciler<V1Deployment> = {
  resource: DEPLOYMENTS,
  desired: (api, config) => pruneUndefined(desiredDeployment(api, config)),
  onCreate: (api) => ({ spec: { replicas: api.spec.autoscaling.initReplicas } }),
  rbac: deploymentRbac,
};

/** Drops undefined values (JSON would too), so desired objects compare and print cleanly. */
export function pruneUndefined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
