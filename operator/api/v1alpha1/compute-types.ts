// RealtimeAPI spec.compute, spec.autoscaling and spec.updateStrategy: what each replica gets, how
// many there are and how they roll. Part of the spec in realtimeapi-types.ts (which re-exports all of it).

import { Type } from '@sinclair/typebox';
import { Computed, Duration, IntOrPercent, Quantity, Struct } from './schema-helpers.ts';

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
