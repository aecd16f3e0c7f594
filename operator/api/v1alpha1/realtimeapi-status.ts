// The RealtimeAPI status: what the operator observed, written to the /status subresource.
// Like the spec, one TypeBox source for the TypeScript type and the CRD's openAPIV3Schema.

import { Type, type Static } from '@sinclair/typebox';
import { StringEnum } from './schema-helpers.ts';

/** The status words `cortex get` shows (Cortex's). */
export const STATUS_WORDS = [
  'live',
  'updating',
  'error',
  'error (out of memory)',
  'error (image pull)',
  'compute unavailable',
] as const;
export type StatusWord = (typeof STATUS_WORDS)[number];

/** Condition types the operator sets. */
export const CONDITION_READY = 'Ready';
export const CONDITION_PROGRESSING = 'Progressing';

/** metav1.Condition, with the bounds Kubernetes itself declares for it. */
export const ConditionSchema = Type.Object(
  {
    type: Type.String({
      minLength: 1,
      maxLength: 316,
      pattern:
        '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?' +
        '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
      description: 'Type of the condition: Ready or Progressing.',
    }),
    status: StringEnum(['True', 'False', 'Unknown'] as const, {
      description: 'Whether the condition holds: True, False or Unknown.',
    }),
    observedGeneration: Type.Optional(
      Type.Integer({
        minimum: 0,
        format: 'int64',
        description: 'metadata.generation the condition was computed from.',
      }),
    ),
    lastTransitionTime: Type.String({
      format: 'date-time',
      description: 'When the status of the condition last changed.',
    }),
    reason: Type.String({
      minLength: 1,
      maxLength: 1024,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
      description: 'Why, in one CamelCase word (e.g. ImagePullFailed).',
    }),
    message: Type.String({ maxLength: 32768, description: 'What happened, for a person.' }),
  },
  { description: "One aspect of the API's state (metav1.Condition)." },
);
export type Condition = Static<typeof ConditionSchema>;

export const ReplicaCountsSchema = Type.Object(
  {
    requested: Type.Integer({
      minimum: 0,
      description: 'Replicas the Deployment asks for (set by the autoscaler within min and max replicas).',
    }),
    ready: Type.Integer({ minimum: 0, description: 'Replicas passing their readiness check.' }),
    updated: Type.Integer({ minimum: 0, description: 'Replicas running the latest version of the API.' }),
    available: Type.Integer({ minimum: 0, description: 'Replicas ready for at least minReadySeconds.' }),
  },
  { description: "Replica counts of the API's Deployment." },
);
export type ReplicaCounts = Static<typeof ReplicaCountsSchema>;

export const RealtimeApiStatusSchema = Type.Object(
  {
    observedGeneration: Type.Optional(
      Type.Integer({
        minimum: 0,
        format: 'int64',
        description: 'metadata.generation of the spec this status describes.',
      }),
    ),
    status: Type.Optional(
      StringEnum(STATUS_WORDS, {
        description:
          'In one word, as cortex get shows it: live, updating, error, error (out of memory), ' +
          'error (image pull) or compute unavailable.',
      }),
    ),
    message: Type.Optional(
      Type.String({
        maxLength: 32768,
        description:
          'What to do about the status, when it is not live: ' +
          "the container's termination message, the scheduler's reason, the invalid field.",
      }),
    ),
    ready: Type.Optional(
      Type.String({ maxLength: 32, description: 'Ready replicas out of requested ones, e.g. 2/3.' }),
    ),
    replicas: Type.Optional(ReplicaCountsSchema),
    endpoint: Type.Optional(Type.String({ maxLength: 2048, description: 'URL of the API inside the cluster.' })),
    url: Type.Optional(
      Type.String({
        maxLength: 2048,
        description:
          'URL of the API outside the cluster, through its HTTPRoute or Ingress (the routes chart values): ' +
          "the admin's hostname, else the address the Gateway or ingress controller published.",
      }),
    ),
    conditions: Type.Optional(
      Type.Array(ConditionSchema, {
        maxItems: 16,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
        description:
          'Ready (serving on every requested replica with the latest spec), Progressing (a rollout is under way) ' +
          'and, when the operator writes routes, Routed (the HTTPRoute or Ingress serves the endpoint).',
      }),
    ),
  },
  { description: 'What the operator observed of the API.' },
);
export type RealtimeApiStatus = Static<typeof RealtimeApiStatusSchema>;
