// The RealtimeAPI spec: the single source of its TypeScript type, its defaults, its validation
// (ajv) and its CRD openAPIV3Schema. Descriptions are what `kubectl explain` shows.
// Fields with a default are optional on the wire (see Struct) and always set after applyDefaults.

import { Type, type Static } from '@sinclair/typebox';
import {
  Computed,
  Duration,
  FreeForm,
  IntOrPercent,
  Quantity,
  StringEnum,
  StringMap,
  Struct,
} from './schema-helpers.ts';
import { LOG_LEVELS } from '../../util/log.ts';
import { ModelsSchema, PREDICTOR_MODEL_RULES } from './models-types.ts';
import { PodSchema } from './pod-types.ts';
import { PREDICTOR_GRPC_RULES, SPEC_GRPC_RULES } from './check-grpc.ts';
import { PayloadLoggingSchema } from './payload-logging-types.ts';
import { AsyncSchema, SPEC_ASYNC_RULES } from './async-types.ts';

/**
 * Predictor types this project runs: python, typescript, and onnx (Cortex's ONNXPredictor, in a
 * Python process with onnxruntime). Cortex's tensorflow type is not supported (cli/config/compat.ts).
 */
export const PREDICTOR_TYPES = ['python', 'typescript', 'onnx'] as const;
export type PredictorType = (typeof PREDICTOR_TYPES)[number];

/** networking.auth: who may call the API (docs/auth.md). */
export const AUTH_MODES = ['none', 'api_key'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/** The endpoint's pattern in the schema; check-formats explains what fails it. */
export const ENDPOINT_PATTERN = '^/';

/**
 * A path inside the project folder, relative to it: not absolute, no `..` segment (RE2 and
 * ECMAScript alike, so the CRD and ajv agree); check-formats explains what fails it.
 */
const PATH_SEGMENT = '([^/.][^/]*|[.]|[.][^/.][^/]*|[.][.][^/]+)'; // anything but ..
export const PROJECT_PATH_PATTERN = `^${PATH_SEGMENT}(/+${PATH_SEGMENT})*/*$`;

/** Sane upper bounds, so a typo (an exponent, extra zeros) is an error rather than a replica that never fits. */
export const LIMITS = {
  /** compute.cpu, in cores. */
  cpuCores: 1024,
  /** compute.mem, in bytes (64Ti). */
  memBytes: 64 * 2 ** 40,
  memText: '64Ti',
  gpu: 16,
  processesPerReplica: 256,
  threadsPerProcess: 1024,
} as const;

/** Log levels of the runtime and the predictor's logger: the logger's own (util/log.ts). */
export { LOG_LEVELS, type LogLevel } from '../../util/log.ts';

export const ServerSideBatchingSchema = Struct(
  {
    maxBatchSize: Type.Integer({
      minimum: 1,
      description:
        'Largest number of requests gathered into one predict call, ' +
        'which then receives a list of payloads and must return a list of the same length.',
    }),
    batchInterval: Duration({
      description:
        'Longest time to wait for a batch to fill before calling predict with what has arrived ' +
        '(a duration such as 100ms or 0.5s).',
    }),
  },
  {
    description:
      'Server-side batching: concurrent requests are grouped into one predict call. ' +
      'Absent: every request is predicted on its own.',
    'x-kubernetes-validations': [
      {
        rule: "duration(self.batchInterval) > duration('0s')",
        message: 'batchInterval must be greater than 0',
        fieldPath: '.batchInterval',
        reason: 'FieldValueInvalid',
      },
    ],
  },
);

export const DependenciesSchema = Struct(
  {
    pip: Type.String({
      minLength: 1,
      pattern: PROJECT_PATH_PATTERN,
      default: 'requirements.txt',
      description:
        'pip requirements file, relative to the project folder (inside it: not absolute, no ..). ' +
        'Default: requirements.txt (installed when present).',
    }),
    conda: Type.Optional(
      Type.String({
        minLength: 1,
        pattern: PROJECT_PATH_PATTERN,
        description:
          'Not supported: conda is not installed, so any value but conda-packages.txt (accepted and ignored, ' +
          'for objects written when it was the default) is rejected, and so is a conda-packages.txt in the ' +
          'project. List pip packages in the pip file, or install them in the shell script.',
      }),
    ),
    shell: Type.String({
      minLength: 1,
      pattern: PROJECT_PATH_PATTERN,
      default: 'dependencies.sh',
      description:
        'Script run with bash in the project folder when a replica starts, before the pip install ' +
        '(system packages, builds from source); its output is in the logs and a non-zero exit stops the ' +
        'replica with the script and exit code as the reason. Relative to the project folder (inside it: ' +
        'not absolute, no ..). ' +
        'Default: dependencies.sh (run when present; a file named here must exist).',
    }),
  },
  { default: {}, description: "Files that install the predictor's dependencies when a replica starts." },
);

/** Key of the binaryData entry that holds a bundle chunk in each of predictor.bundle.configMaps. */
export const BUNDLE_KEY = 'bundle.tgz';
/** Most ConfigMaps a bundle may span (each holds at most ~1 MiB). */
export const BUNDLE_MAX_CONFIGMAPS = 64;

export const BundleSchema = Struct(
  {
    configMaps: Type.Array(
      Type.String({
        minLength: 1,
        maxLength: 253,
        pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
        description: "Name of a ConfigMap in the API's namespace.",
      }),
      {
        minItems: 1,
        maxItems: BUNDLE_MAX_CONFIGMAPS,
        description:
          "ConfigMaps in the API's namespace holding the project folder as a gzipped tar, in order: " +
          `each one's binaryData key "${BUNDLE_KEY}" is the next chunk. Written by cortex deploy.`,
      },
    ),
    sha256: Type.String({
      pattern: '^[0-9a-f]{64}$',
      description:
        'SHA-256 (lowercase hex) of the whole tar.gz: checked before it is unpacked, ' +
        'and a new value rolls the replicas out even when the ConfigMap names stay the same.',
    }),
  },
  {
    description:
      'Where the project folder (cortex.yaml, the predictor, its files) comes from ' +
      'when it is not baked into predictor.image: ' +
      'a bundle cortex deploy uploads as ConfigMaps, unpacked into /mnt/project when a replica starts.',
  },
);

export const PredictorSchema = Struct(
  {
    type: StringEnum(PREDICTOR_TYPES, {
      maxLength: 32, // bounded, since a CEL rule reads it
      description:
        'Kind of predictor: python (a PythonPredictor class), typescript (an exported predictor class) or ' +
        'onnx (an ONNXPredictor class given an onnx_client that runs predictor.models with onnxruntime).',
    }),
    path: Type.String({
      minLength: 1,
      pattern: PROJECT_PATH_PATTERN,
      description:
        'File holding the predictor class, relative to the project folder (the folder of cortex.yaml; ' +
        'inside it: not absolute, no ..).',
    }),
    config: FreeForm({
      default: {},
      description: "Free-form configuration passed to the predictor's constructor. Default: {}.",
    }),
    env: StringMap({ default: {}, description: 'Environment variables set for the predictor. Default: none.' }),
    pythonPath: Type.Optional(
      Type.String({
        minLength: 1,
        pattern: PROJECT_PATH_PATTERN,
        description:
          'Folder added to PYTHONPATH, relative to the project folder (inside it: not absolute, no ..). ' +
          'Default: the project folder.',
      }),
    ),
    image: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description: 'Container image that replaces the runtime image. Default: the image of this Cortex version.',
      }),
    ),
    logLevel: StringEnum(LOG_LEVELS, {
      default: 'info',
      description: 'Log level: debug, info, warning or error. Default: info.',
    }),
    processesPerReplica: Type.Integer({
      minimum: 1,
      maximum: LIMITS.processesPerReplica,
      default: 1,
      description:
        'Predictor processes (or worker threads, for typescript) per replica, ' +
        `at most ${LIMITS.processesPerReplica}. Default: 1.`,
    }),
    threadsPerProcess: Type.Integer({
      minimum: 1,
      maximum: LIMITS.threadsPerProcess,
      default: 1,
      description: `Concurrent predict calls per process, at most ${LIMITS.threadsPerProcess}. Default: 1.`,
    }),
    serverSideBatching: Type.Optional(ServerSideBatchingSchema),
    protobufPath: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024, // bounded, since a CEL rule reads it
        pattern: PROJECT_PATH_PATTERN,
        description:
          'A .proto file with one service, relative to the project folder (inside it: not absolute, no ..): ' +
          "the API then serves gRPC (HTTP/2 without TLS) on the replica's port instead of HTTP, each RPC " +
          'calling the predictor method of its name with payload (the request message) and context, as ' +
          'Cortex 0.33-0.35 did (docs/grpc.md). Python predictors only; unary and server-streaming RPCs. ' +
          'Default: none (HTTP).',
      }),
    ),
    dependencies: DependenciesSchema,
    bundle: Type.Optional(BundleSchema),
    models: Type.Optional(ModelsSchema),
    payloadLogging: Type.Optional(PayloadLoggingSchema),
  },
  {
    description: 'The code that serves predictions and how it runs.',
    'x-kubernetes-validations': [
      {
        rule: 'has(self.bundle) || has(self.image)',
        message:
          "the predictor's code must come from predictor.bundle " +
          '(cortex deploy uploads it) or be baked into predictor.image at /mnt/project',
      },
      ...PREDICTOR_MODEL_RULES,
      ...PREDICTOR_GRPC_RULES,
    ],
  },
);

export const ComputeSchema = Struct(
  {
    cpu: Quantity({
      default: '200m',
      description:
        'CPU requested per replica, a Kubernetes quantity such as 200m, 0.5 or 2, ' +
        `at most ${LIMITS.cpuCores} cores (with pod: by its proxy container; each container has its own). ` +
        'Default: 200m.',
    }),
    gpu: Type.Integer({
      minimum: 0,
      maximum: LIMITS.gpu,
      default: 0,
      description:
        `GPUs requested per replica (nvidia.com/gpu), a whole number, at most ${LIMITS.gpu} ` +
        '(with pod: 0; GPUs go in pod.containers[].compute.gpu). Default: 0.',
    }),
    mem: Type.Optional(
      Quantity({
        description:
          'Memory requested per replica, a Kubernetes quantity such as 200M, 512Mi or 2Gi, ' +
          `at most ${LIMITS.memText} (with pod: by its proxy container). Default: none.`,
      }),
    ),
    nodeGroups: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 63 }), {
        maxItems: 32,
        description: 'Node groups the replicas may run on. Default: any node that fits.',
      }),
    ),
  },
  { default: {}, description: 'Resources requested by each replica.' },
);

export const AutoscalingSchema = Struct(
  {
    minReplicas: Type.Integer({ minimum: 0, default: 1, description: 'Fewest replicas. Default: 1.' }),
    maxReplicas: Type.Integer({ minimum: 1, default: 100, description: 'Most replicas. Default: 100.' }),
    initReplicas: Computed(
      Type.Integer({
        minimum: 0,
        description:
          'Replicas when the API is first created, between minReplicas and maxReplicas. Default: minReplicas.',
      }),
    ),
    targetReplicaConcurrency: Computed(
      Type.Number({
        minimum: 0,
        description:
          'In-flight requests per replica the autoscaler aims for (greater than 0; Cortex 0.42 called it ' +
          'target_in_flight). Default: processesPerReplica × threadsPerProcess; with pod: pod.maxConcurrency. ' +
          'An AsyncAPI (async set): requests in its queue (waiting or being worked) per replica.',
      }),
    ),
    maxReplicaConcurrency: Type.Integer({
      minimum: 1,
      default: 1024,
      description:
        'In-flight requests a replica accepts before answering 503 (predictor only: with pod, ' +
        'pod.maxConcurrency + pod.maxQueueLength). Default: 1024.',
    }),
    window: Duration({
      default: '60s',
      description: 'Period over which in-flight requests are averaged, a multiple of 10s. Default: 60s.',
    }),
    downscaleStabilizationPeriod: Duration({
      default: '5m',
      description: 'Replicas never go below the highest recommendation of this period. Default: 5m.',
    }),
    upscaleStabilizationPeriod: Duration({
      default: '1m',
      description: 'Replicas never go above the lowest recommendation of this period. Default: 1m.',
    }),
    maxDownscaleFactor: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.75,
      description: 'Largest step down, as a factor of the current replicas, strictly between 0 and 1. Default: 0.75.',
    }),
    maxUpscaleFactor: Type.Number({
      minimum: 1,
      default: 1.5,
      description: 'Largest step up, as a factor of the current replicas, greater than 1. Default: 1.5.',
    }),
    downscaleTolerance: Type.Number({
      minimum: 0,
      default: 0.05,
      description:
        'No downscale while the recommendation is within this fraction below the current replicas. Default: 0.05.',
    }),
    upscaleTolerance: Type.Number({
      minimum: 0,
      default: 0.05,
      description:
        'No upscale while the recommendation is within this fraction above the current replicas. Default: 0.05.',
    }),
    scaleToZeroAfter: Duration({
      default: '5m',
      description:
        'With minReplicas 0: the API goes to 0 replicas after this long without a request; ' +
        'the next request is held until a replica is ready. Default: 5m.',
    }),
  },
  {
    default: {},
    description: 'How the number of replicas follows the in-flight requests.',
    // Cross-field checks the API server runs at apply time (validateSpec runs the same ones in
    // the CLI). Every field they read has a default, so it is present in stored objects; the
    // has() guards are for the `default: {}` itself, which the API server validates before
    // nested defaults fill it.
    'x-kubernetes-validations': [
      {
        rule: '!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas',
        message: 'minReplicas must be less than or equal to maxReplicas',
        fieldPath: '.minReplicas',
        reason: 'FieldValueInvalid',
      },
      {
        rule:
          '!has(self.initReplicas) || !has(self.minReplicas) || !has(self.maxReplicas) || ' +
          '(self.initReplicas >= self.minReplicas && self.initReplicas <= self.maxReplicas)',
        message: 'initReplicas must be between minReplicas and maxReplicas',
        fieldPath: '.initReplicas',
        reason: 'FieldValueInvalid',
      },
      {
        rule: '!has(self.targetReplicaConcurrency) || self.targetReplicaConcurrency > 0.0',
        message: 'targetReplicaConcurrency must be greater than 0',
        fieldPath: '.targetReplicaConcurrency',
        reason: 'FieldValueInvalid',
      },
      {
        rule: '!has(self.maxDownscaleFactor) || (self.maxDownscaleFactor > 0.0 && self.maxDownscaleFactor < 1.0)',
        message: 'maxDownscaleFactor must be greater than 0 and less than 1',
        fieldPath: '.maxDownscaleFactor',
        reason: 'FieldValueInvalid',
      },
      {
        rule: '!has(self.maxUpscaleFactor) || self.maxUpscaleFactor > 1.0',
        message: 'maxUpscaleFactor must be greater than 1',
        fieldPath: '.maxUpscaleFactor',
        reason: 'FieldValueInvalid',
      },
      {
        rule:
          "!has(self.window) || (duration(self.window) >= duration('10s') && " +
          'duration(self.window).getMilliseconds() % 10000 == 0)',
        message: 'window must be a multiple of 10s',
        fieldPath: '.window',
        reason: 'FieldValueInvalid',
      },
      {
        rule:
          '(!has(self.downscaleStabilizationPeriod) || ' +
          "duration(self.downscaleStabilizationPeriod) <= duration('1h')) && " +
          "(!has(self.upscaleStabilizationPeriod) || duration(self.upscaleStabilizationPeriod) <= duration('1h'))",
        message: "stabilization periods must be at most 1h (the HorizontalPodAutoscaler's limit)",
        reason: 'FieldValueInvalid',
      },
    ],
  },
);

export const UpdateStrategySchema = Struct(
  {
    maxSurge: IntOrPercent({
      default: '25%',
      description:
        'Replicas created above the desired count during a rolling update: a number or a percentage. ' +
        '0 disables surging. Default: 25%.',
    }),
    maxUnavailable: IntOrPercent({
      default: '25%',
      description:
        'Replicas that may be unavailable during a rolling update: ' +
        'a number or a percentage (not 0 when maxSurge is 0). Default: 25%.',
    }),
  },
  {
    default: {},
    description: 'Rolling update of the replicas when the API changes.',
    'x-kubernetes-validations': [
      {
        // int-or-string values are dynamic in CEL: string() reads 0 and '0%' alike.
        rule:
          '!has(self.maxSurge) || !has(self.maxUnavailable) || ' +
          "!(string(self.maxSurge) in ['0', '0%'] && string(self.maxUnavailable) in ['0', '0%'])",
        message: 'maxSurge and maxUnavailable must not both be 0 (a rolling update could never progress)',
        fieldPath: '.maxUnavailable',
        reason: 'FieldValueInvalid',
      },
    ],
  },
);

export const NetworkingSchema = Struct(
  {
    endpoint: Computed(
      Type.String({
        minLength: 1,
        maxLength: 1024, // bounded, since a CEL rule reads it
        pattern: ENDPOINT_PATTERN,
        description:
          'URL path of the API, without . or .. segments. Default: /<name>. ' +
          'The local environment routes this path on its gateway. ' +
          "In a cluster it is the path prefix of the API's HTTPRoute or Ingress when the chart writes routes " +
          '(docs/routes.md; the prefix is stripped), and status.url the URL; the Service answers at its root.',
      }),
    ),
    auth: StringEnum(AUTH_MODES, {
      default: 'none',
      description:
        'Who may call the API. none (default): anyone who reaches it. api_key: every prediction needs ' +
        'Authorization: Bearer <key> with a key of this API (cortex api-key create), checked by the replicas, ' +
        'the activator and the local gateway; a key may carry a rate limit (429 with Retry-After past it). ' +
        'In a cluster the keys are in the Secret cortex-api-keys-<name> (hashed); see docs/auth.md.',
    }),
  },
  {
    default: {},
    description: 'How the API is reached.',
    'x-kubernetes-validations': [
      {
        // a client's URL never reaches a path with dot segments: it is normalised first
        rule: "!has(self.endpoint) || !self.endpoint.matches('(^|/)[.][.]?(/|$)')",
        message: 'endpoint must not have . or .. segments',
        fieldPath: '.endpoint',
        reason: 'FieldValueInvalid',
      },
    ],
  },
);

export const RealtimeApiSpecSchema = Struct(
  {
    predictor: Type.Optional(PredictorSchema),
    pod: Type.Optional(PodSchema),
    compute: ComputeSchema,
    autoscaling: AutoscalingSchema,
    updateStrategy: UpdateStrategySchema,
    networking: NetworkingSchema,
    async: Type.Optional(AsyncSchema),
  },
  {
    description:
      'A realtime prediction API: a predictor class (predictor) or your own containers (pod) served over HTTP, ' +
      'autoscaled on in-flight requests.',
    'x-kubernetes-validations': [
      {
        rule: 'has(self.predictor) != has(self.pod)',
        message: 'exactly one of predictor (a predictor class) and pod (your own containers) must be set',
        reason: 'FieldValueInvalid',
      },
      {
        rule: '!has(self.pod) || !has(self.compute) || !has(self.compute.gpu) || self.compute.gpu == 0',
        message: 'compute.gpu must be 0 with pod: request GPUs in pod.containers[].compute.gpu',
        fieldPath: '.compute.gpu',
        reason: 'FieldValueInvalid',
      },
      ...SPEC_GRPC_RULES,
      ...SPEC_ASYNC_RULES,
    ],
  },
);

/** A fully defaulted RealtimeAPI spec (what applyDefaults returns and the operator reads). */
export type RealtimeApiSpec = Static<typeof RealtimeApiSpecSchema>;
export type PredictorSpec = NonNullable<RealtimeApiSpec['predictor']>;
export type ServerSideBatchingSpec = Static<typeof ServerSideBatchingSchema>;
export type BundleSpec = Static<typeof BundleSchema>;
export type PayloadLoggingSpec = Static<typeof PayloadLoggingSchema>;
export type ComputeSpec = RealtimeApiSpec['compute'];
export type AutoscalingSpec = RealtimeApiSpec['autoscaling'];
export type UpdateStrategySpec = RealtimeApiSpec['updateStrategy'];
export type NetworkingSpec = RealtimeApiSpec['networking'];

// lists are partial item by item (pod.containers: each container's defaults)
type DeepPartial<T> = T extends readonly (infer U)[]
  ? DeepPartial<U>[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** A spec as written by a user: anything with a default may be left out. */
export type RealtimeApiSpecInput = DeepPartial<RealtimeApiSpec>;

export type { PodSpec, ContainerSpec, ProbeSpec, PreStopSpec } from './pod-types.ts';
export { PodSchema, PROXY_PORTS, PROXY_CONTAINER_NAME, PROXY_PROBE_HEADER, POD_LIMITS } from './pod-types.ts';
