// RealtimeAPI spec.predictor: the predictor class, its files, dependencies and the bundle its
// project folder comes in. Part of the spec in realtimeapi-types.ts (which re-exports all of it).

import { Type } from '@sinclair/typebox';
import { Duration, FreeForm, StringEnum, StringMap, Struct } from './schema-helpers.ts';
import { LOG_LEVELS } from '../../util/log.ts';
import { ModelsSchema, PREDICTOR_MODEL_RULES } from './models-types.ts';
import { PREDICTOR_GRPC_RULES } from './check-grpc.ts';
import { PayloadLoggingSchema } from './payload-logging-types.ts';
import { LIMITS } from './compute-types.ts';

/**
 * Predictor types this project runs: python, typescript, and onnx (Cortex's ONNXPredictor, in a
 * Python process with onnxruntime). Cortex's tensorflow type is not supported (cli/config/compat.ts).
 */
export const PREDICTOR_TYPES = ['python', 'typescript', 'onnx'] as const;
export type PredictorType = (typeof PREDICTOR_TYPES)[number];

/**
 * A path inside the project folder, relative to it: not absolute, no `..` segment (RE2 and
 * ECMAScript alike, so the CRD and ajv agree); check-formats explains what fails it.
 */
const PATH_SEGMENT = '([^/.][^/]*|[.]|[.][^/.][^/]*|[.][.][^/]+)'; // anything but ..
export const PROJECT_PATH_PATTERN = `^${PATH_SEGMENT}(/+${PATH_SEGMENT})*/*$`;

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
