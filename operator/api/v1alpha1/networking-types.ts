// RealtimeAPI spec.networking: the API's endpoint and who may call it. Part of the spec in
// realtimeapi-types.ts (which re-exports all of it).

import { Type } from '@sinclair/typebox';
import { Computed, StringEnum, Struct } from './schema-helpers.ts';

/** networking.auth: who may call the API (docs/auth.md). */
export const AUTH_MODES = ['none', 'api_key'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/** The endpoint's pattern in the schema; check-formats explains what fails it. */
export const ENDPOINT_PATTERN = '^/';

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
