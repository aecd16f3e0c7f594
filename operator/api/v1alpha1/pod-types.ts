// spec.pod: Cortex 0.36-0.42's container format, the alternative to spec.predictor. The user's
// containers serve HTTP on pod.port; each replica runs them next to `cortex proxy` (the runtime
// image), which admits pod.maxConcurrency requests at once, queues pod.maxQueueLength more and
// exports the in-flight metrics the autoscaler reads (runtime/proxy.ts, reconcilers/pod.ts).

import { Type, type Static } from '@sinclair/typebox';
import { Quantity, StringMap, Struct } from './schema-helpers.ts';

/** Limits of the pod form, so a typo is an error rather than a pod that never schedules. */
export const POD_LIMITS = { containers: 16, gpu: 16, maxConcurrency: 100_000, maxQueueLength: 1_000_000 } as const;

/**
 * Ports the proxy itself listens on in every replica (runtime's port and admin port), so
 * pod.port must be another one. Kept here, not in the operator, because validation needs them.
 */
export const PROXY_PORTS = { traffic: 8888, admin: 15000 } as const;

/**
 * The header that marks the activator's readiness probe of a waking replica (operator/activator):
 * with it, GET /readyz on the traffic port is answered by the proxy instead of being forwarded.
 */
export const PROXY_PROBE_HEADER = 'x-cortex-probe';

/** Name of the proxy's container in every replica of a pod API: no user container may take it. */
export const PROXY_CONTAINER_NAME = 'cortex-proxy';

const Port = (description: string) => Type.Integer({ minimum: 1, maximum: 65535, description });

const Command = (description: string) => Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 256, description });

const HttpGetSchema = Struct(
  {
    port: Port("Port of the container's server to request (a number)."),
    path: Type.String({
      minLength: 1,
      maxLength: 1024,
      pattern: '^/',
      default: '/',
      description: 'Path to request; a status from 200 to 399 is a success. Default: /.',
    }),
  },
  { description: 'An HTTP GET to the container.' },
);

const TcpSocketSchema = Struct(
  { port: Port('Port that must accept a TCP connection.') },
  { description: 'A TCP connection to the container.' },
);

const ExecSchema = Struct(
  {
    command: Type.Array(Type.String({ maxLength: 4096 }), {
      minItems: 1,
      maxItems: 256,
      description: "Command run in the container (not in a shell), from '/'; exit code 0 is a success.",
    }),
  },
  { description: 'A command run inside the container.' },
);

/** Exactly one of a probe's handlers, in CEL (the validation of the CLI says the same). */
const ONE_HANDLER = (fields: string[]) => ({
  rule: `[${fields.map((f) => `has(self.${f})`).join(', ')}].filter(x, x).size() == 1`,
  message: `exactly one of ${fields.join(', ')} must be set`,
  reason: 'FieldValueInvalid',
});

const probeTiming = (what: string) => ({
  initialDelaySeconds: Type.Integer({
    minimum: 0,
    maximum: 3600,
    default: 0,
    description: 'Seconds after the container starts before the first probe. Default: 0.',
  }),
  timeoutSeconds: Type.Integer({
    minimum: 1,
    maximum: 3600,
    default: 1,
    description: 'Seconds a probe may take. Default: 1.',
  }),
  periodSeconds: Type.Integer({
    minimum: 1,
    maximum: 3600,
    default: 10,
    description: 'Seconds between probes. Default: 10.',
  }),
  successThreshold: Type.Integer({
    minimum: 1,
    maximum: 100,
    default: 1,
    description: `Consecutive successes after a failure before the container counts as ${what} again. Default: 1.`,
  }),
  failureThreshold: Type.Integer({
    minimum: 1,
    maximum: 100,
    default: 3,
    description: 'Consecutive failures before the probe counts as failed. Default: 3.',
  }),
});

const probeSchema = (what: string, description: string, rules: object[] = []) =>
  Struct(
    {
      httpGet: Type.Optional(HttpGetSchema),
      tcpSocket: Type.Optional(TcpSocketSchema),
      exec: Type.Optional(ExecSchema),
      ...probeTiming(what),
    },
    { description, 'x-kubernetes-validations': [ONE_HANDLER(['httpGet', 'tcpSocket', 'exec']), ...rules] },
  );

export const ReadinessProbeSchema = probeSchema(
  'ready',
  "Kubernetes readiness probe of the container: a replica gets requests only while every container's " +
    'probe succeeds (the proxy also waits for pod.port to accept connections). Default: none.',
);

export const LivenessProbeSchema = probeSchema(
  'alive',
  'Kubernetes liveness probe of the container: the container is restarted when it fails. Default: none.',
  [
    {
      rule: '!has(self.successThreshold) || self.successThreshold == 1',
      message: 'successThreshold must be 1 for a liveness probe (a Kubernetes rule)',
      fieldPath: '.successThreshold',
      reason: 'FieldValueInvalid',
    },
  ],
);

export const PreStopSchema = Struct(
  { httpGet: Type.Optional(HttpGetSchema), exec: Type.Optional(ExecSchema) },
  {
    description:
      'Run before the container is stopped (the pre-stop hook of Kubernetes); SIGTERM follows when it ends. ' +
      'Default: none.',
    'x-kubernetes-validations': [ONE_HANDLER(['httpGet', 'exec'])],
  },
);

export const ContainerComputeSchema = Struct(
  {
    cpu: Quantity({
      default: '200m',
      description: 'CPU requested by the container, a Kubernetes quantity such as 200m, 0.5 or 2. Default: 200m.',
    }),
    gpu: Type.Integer({
      minimum: 0,
      maximum: POD_LIMITS.gpu,
      default: 0,
      description: `GPUs for the container (nvidia.com/gpu), a whole number, at most ${POD_LIMITS.gpu}. Default: 0.`,
    }),
    mem: Type.Optional(
      Quantity({
        description:
          'Memory requested by the container (also its limit: over it, it is OOM-killed), such as 512Mi. ' +
          'Default: none.',
      }),
    ),
    shm: Type.Optional(
      Quantity({
        description:
          'Size of /dev/shm in the container (shared memory between its processes), such as 64Mi. ' +
          'Default: the runtime default (64Mi under most container runtimes).',
      }),
    ),
  },
  { default: {}, description: 'Resources requested by the container.' },
);

export const ContainerSchema = Struct(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 63,
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
      description: `Name of the container (lowercase letters, digits and -; not ${PROXY_CONTAINER_NAME}).`,
    }),
    image: Type.String({ minLength: 1, maxLength: 1024, description: 'Container image to run.' }),
    command: Type.Optional(
      Command(
        'Entrypoint, not run in a shell; $(CORTEX_PORT) and other $(VAR) are expanded. ' +
          "Default: the image's ENTRYPOINT.",
      ),
    ),
    args: Type.Optional(Command("Arguments of the entrypoint; $(VAR) is expanded. Default: the image's CMD.")),
    env: StringMap({
      default: {},
      description: 'Environment variables of the container (CORTEX_PORT is set to pod.port). Default: none.',
    }),
    compute: ContainerComputeSchema,
    readinessProbe: Type.Optional(ReadinessProbeSchema),
    livenessProbe: Type.Optional(LivenessProbeSchema),
    preStop: Type.Optional(PreStopSchema),
  },
  {
    description: 'One container of the replica.',
    'x-kubernetes-validations': [
      {
        rule: `self.name != '${PROXY_CONTAINER_NAME}'`,
        message: `the container name ${PROXY_CONTAINER_NAME} is taken by Cortex's proxy`,
        fieldPath: '.name',
        reason: 'FieldValueInvalid',
      },
    ],
  },
);

export const PodSchema = Struct(
  {
    port: Type.Integer({
      minimum: 1,
      maximum: 65535,
      default: 8080,
      description:
        'Port on which one of the containers serves HTTP; the proxy forwards every request there ' +
        `(set in each container as CORTEX_PORT; not ${PROXY_PORTS.traffic} or ${PROXY_PORTS.admin}, the proxy's). ` +
        'Default: 8080.',
    }),
    maxConcurrency: Type.Integer({
      minimum: 1,
      maximum: POD_LIMITS.maxConcurrency,
      default: 1,
      description: 'Requests the proxy lets into the containers at once, per replica. Default: 1.',
    }),
    maxQueueLength: Type.Integer({
      minimum: 0,
      maximum: POD_LIMITS.maxQueueLength,
      default: 100,
      description:
        'Requests per replica that wait in the proxy, in arrival order, beyond maxConcurrency; ' +
        'any more are answered 503. Default: 100.',
    }),
    containers: Type.Array(ContainerSchema, {
      minItems: 1,
      maxItems: POD_LIMITS.containers,
      description: "The replica's containers (unique names): one of them must serve HTTP on port.",
      // keyed by name, as a Pod's containers: the API server refuses a duplicate name, and
      // server-side apply merges container by container
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    }),
  },
  {
    description:
      "The API's own containers (Cortex 0.36-0.42's pod format), instead of predictor: each replica runs them " +
      "behind Cortex's proxy, which limits concurrency and reports in-flight requests for autoscaling.",
    'x-kubernetes-validations': [
      {
        rule: `!has(self.port) || (self.port != ${PROXY_PORTS.traffic} && self.port != ${PROXY_PORTS.admin})`,
        message: `port must not be ${PROXY_PORTS.traffic} or ${PROXY_PORTS.admin} (the proxy listens there)`,
        fieldPath: '.port',
        reason: 'FieldValueInvalid',
      },
    ],
  },
);

export type PodSpec = Static<typeof PodSchema>;
export type ContainerSpec = Static<typeof ContainerSchema>;
export type ProbeSpec = Static<typeof ReadinessProbeSchema>;
export type PreStopSpec = Static<typeof PreStopSchema>;
