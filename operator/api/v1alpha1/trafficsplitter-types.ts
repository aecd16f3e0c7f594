// TrafficSplitter v1alpha1: Cortex's kind that splits one endpoint's requests between RealtimeAPIs
// by weight (A/B tests, canaries) and copies every request to one shadow API (fire-and-forget).
// One source for the TypeScript type, the defaults, the checks the CLI runs and the CRD's
// openAPIV3Schema with its CEL rules (generate-splitter-crd.ts).

import { Type, type Static } from '@sinclair/typebox';
import { ConditionSchema } from './realtimeapi-status.ts';
import { ENDPOINT_PATTERN } from './realtimeapi-types.ts';
import { Computed, Struct } from './schema-helpers.ts';
import { canonicalEndpoint } from './defaults.ts';

export const SPLITTER_KIND = 'TrafficSplitter';
export const SPLITTER_PLURAL = 'trafficsplitters';
export const SPLITTER_SINGULAR = 'trafficsplitter';
export const SPLITTER_SHORT_NAMES = ['tsplit'];
/** Backends per splitter (bounded: the CEL rules iterate over them). */
export const MAX_SPLITTER_APIS = 16;

const SHADOW = '(has(a.shadow) && a.shadow)';

export const SplitterBackendSchema = Struct(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 63,
      pattern: '^[a-z]([-a-z0-9]*[a-z0-9])?$',
      description: 'A RealtimeAPI in the same namespace.',
    }),
    weight: Type.Integer({
      minimum: 0,
      maximum: 100,
      description: 'Percentage of the requests it answers; the weights of the APIs that are not the shadow sum to 100.',
    }),
    shadow: Type.Boolean({
      default: false,
      description:
        'Gets a copy of every request, fire-and-forget: clients see only the other APIs answers (at most one shadow).',
    }),
  },
  { description: 'One RealtimeAPI behind the splitter.' },
);

export const TrafficSplitterSpecSchema = Struct(
  {
    networking: Struct(
      {
        endpoint: Computed(
          Type.String({
            minLength: 1,
            maxLength: 1024,
            pattern: ENDPOINT_PATTERN,
            description: 'URL path of the splitter. Default: /<name>.',
          }),
        ),
      },
      { default: {}, description: 'Where the splitter answers.' },
    ),
    apis: Type.Array(SplitterBackendSchema, {
      minItems: 1,
      maxItems: MAX_SPLITTER_APIS,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
      description: 'The RealtimeAPIs the requests go to, each with its weight; one of them may be the shadow.',
    }),
  },
  {
    description: "Splits an endpoint's requests between RealtimeAPIs by weight, and copies them to a shadow.",
    'x-kubernetes-validations': [
      {
        rule: `self.apis.filter(a, !${SHADOW}).map(a, a.weight).sum() == 100`,
        message: 'the weights of the APIs that are not the shadow must sum to 100',
        fieldPath: '.apis',
        reason: 'FieldValueInvalid',
      },
      {
        rule: `self.apis.filter(a, ${SHADOW}).size() <= 1`,
        message: 'at most one API can be the shadow',
        fieldPath: '.apis',
        reason: 'FieldValueInvalid',
      },
    ],
  },
);

export type TrafficSplitterSpec = Static<typeof TrafficSplitterSpecSchema>;
export type SplitterBackend = TrafficSplitterSpec['apis'][number];

export const SPLITTER_STATUS_WORDS = ['live', 'updating', 'error'] as const;

export const TrafficSplitterStatusSchema = Type.Object(
  {
    observedGeneration: Type.Optional(Type.Integer({ minimum: 0, format: 'int64', description: 'Generation seen.' })),
    status: Type.Optional(
      Type.Unsafe<(typeof SPLITTER_STATUS_WORDS)[number]>({
        type: 'string',
        enum: [...SPLITTER_STATUS_WORDS],
        description: 'live (its route serves), updating, or error (the message says what to fix).',
      }),
    ),
    message: Type.Optional(Type.String({ maxLength: 32768, description: 'What to fix, when not live.' })),
    url: Type.Optional(Type.String({ maxLength: 2048, description: 'URL of the splitter outside the cluster.' })),
    weights: Type.Optional(
      Type.String({ maxLength: 1024, description: 'The split, e.g. iris:80 iris-v2:20 shadow:iris-v3.' }),
    ),
    conditions: Type.Optional(
      Type.Array(ConditionSchema, {
        maxItems: 8,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
        description: 'Routed: the HTTPRoute with the weighted backends serves the endpoint.',
      }),
    ),
  },
  { description: 'What the operator observed of the splitter.' },
);
export type TrafficSplitterStatus = Static<typeof TrafficSplitterStatusSchema>;

/** A problem with a splitter's spec: the field (camelCase path), what is wrong, how to fix it. */
export interface SplitterIssue {
  path: (string | number)[];
  message: string;
  fix: string;
}

/** The spec with its defaults: endpoint /<name> (canonical), shadow false. */
export function applySplitterDefaults(name: string, input: Partial<TrafficSplitterSpec>): TrafficSplitterSpec {
  const endpoint = input.networking?.endpoint;
  return {
    networking: { endpoint: canonicalEndpoint(typeof endpoint === 'string' ? endpoint : `/${name}`) },
    apis: (input.apis ?? []).map((a) => ({ ...a, shadow: a.shadow ?? false })),
  };
}

/** The checks the CRD's CEL rules make, with a fix each (the CLI runs them before anything is applied). */
export function validateSplitter(spec: TrafficSplitterSpec): SplitterIssue[] {
  const issues: SplitterIssue[] = [];
  const shadows = spec.apis.filter((a) => a.shadow);
  const served = spec.apis.filter((a) => !a.shadow);
  const sum = served.reduce((s, a) => s + a.weight, 0);
  if (spec.apis.length === 0) {
    issues.push({ path: ['apis'], message: 'lists no API', fix: 'list the RealtimeAPIs, each with name and weight' });
  } else if (sum !== 100) {
    issues.push({
      path: ['apis'],
      message: `the weights of the APIs that are not the shadow sum to ${sum}, not 100 (${served
        .map((a) => `${a.name}: ${a.weight}`)
        .join(', ')})`,
      fix: 'make them sum to 100, e.g. 90 for the current version and 10 for the canary',
    });
  }
  if (shadows.length > 1) {
    issues.push({
      path: ['apis', spec.apis.indexOf(shadows[1]), 'shadow'],
      message: `more than one shadow (${shadows.map((a) => a.name).join(', ')})`,
      fix: 'keep shadow: true on one API only',
    });
  }
  const seen = new Set<string>();
  spec.apis.forEach((a, i) => {
    if (seen.has(a.name))
      issues.push({ path: ['apis', i, 'name'], message: `${a.name} is listed twice`, fix: 'list each API once' });
    seen.add(a.name);
  });
  return issues;
}
