// The RealtimeAPI spec: the single source of its TypeScript type, its defaults, its validation
// (ajv) and its CRD openAPIV3Schema. Descriptions are what `kubectl explain` shows.
// Fields with a default are optional on the wire (see Struct) and always set after applyDefaults.
// The parts of the spec live in predictor-types.ts, compute-types.ts (compute, autoscaling,
// updateStrategy) and networking-types.ts; this file assembles them and re-exports them, so
// importers (and index.ts) see one module.

import { Type, type Static } from '@sinclair/typebox';
import { Struct } from './schema-helpers.ts';
import { PodSchema } from './pod-types.ts';
import { SPEC_GRPC_RULES } from './check-grpc.ts';
import { PayloadLoggingSchema } from './payload-logging-types.ts';
import { AsyncSchema, SPEC_ASYNC_RULES } from './async-types.ts';
import { BundleSchema, PredictorSchema, ServerSideBatchingSchema } from './predictor-types.ts';
import { AutoscalingSchema, ComputeSchema, UpdateStrategySchema } from './compute-types.ts';
import { NetworkingSchema } from './networking-types.ts';

export * from './predictor-types.ts';
export * from './compute-types.ts';
export * from './networking-types.ts';

/** Log levels of the runtime and the predictor's logger: the logger's own (util/log.ts). */
export { LOG_LEVELS, type LogLevel } from '../../util/log.ts';

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
