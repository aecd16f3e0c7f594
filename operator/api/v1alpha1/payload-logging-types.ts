// predictor.payloadLogging: a sampled copy of requests and responses sent to an HTTP sink as
// CloudEvents, as KServe's logger does (docs/payload-logging.md; runtime/payload-log/).

import { Type } from '@sinclair/typebox';
import { StringEnum, Struct } from './schema-helpers.ts';

/** The sink's URL in the schema; check-formats explains what fails it. */
export const SINK_URL_PATTERN = '^https?://[^/?#\\s]+';

export const PAYLOAD_LOG_MODES = ['all', 'request', 'response'] as const;
export const CLOUDEVENT_MODES = ['binary', 'structured'] as const;

/** Headers never copied to the sink, whatever redactHeaders says (lower case). */
export const ALWAYS_REDACTED_HEADERS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
] as const;

export const PayloadLoggingSchema = Struct(
  {
    url: Type.String({
      minLength: 1,
      maxLength: 2048,
      pattern: SINK_URL_PATTERN,
      description:
        'The sink: every sampled request and response is POSTed here as a CloudEvent (http:// or https://), ' +
        'e.g. a Knative broker, an event-display service or your own collector.',
    }),
    mode: StringEnum(PAYLOAD_LOG_MODES, {
      default: 'all',
      description: 'What is sent: all (the request and its response), request or response. Default: all.',
    }),
    sampleRate: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 1,
      description: 'Fraction of requests copied, from 0 to 1 (0.1: one in ten, at random). Default: 1.',
    }),
    maxBodyBytes: Type.Integer({
      minimum: 0,
      maximum: 16 * 1024 * 1024,
      default: 64 * 1024,
      description:
        'Longest body copied: a longer one is cut to this many bytes and its event carries ' +
        'cortextruncated: true and cortexbodysize (the full size). Default: 65536.',
    }),
    redactHeaders: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), {
      default: [],
      maxItems: 64,
      description:
        'Header names (any case) whose values are replaced by "REDACTED" in the copy, on top of those always ' +
        `redacted: ${ALWAYS_REDACTED_HEADERS.join(', ')}. Default: none more.`,
    }),
    format: StringEnum(CLOUDEVENT_MODES, {
      default: 'binary',
      description:
        'CloudEvents HTTP mode: binary (the body as it was, attributes in ce- headers) or structured ' +
        '(one application/cloudevents+json document; a body that is not JSON goes in data_base64). Default: binary.',
    }),
    queueSize: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      default: 1000,
      description:
        'Events held in memory while the sink is slow or down; beyond this they are dropped and counted in ' +
        'cortex_payload_log_dropped_total (requests are never slowed). Default: 1000.',
    }),
  },
  {
    description:
      "Payload logging: a sampled copy of the API's requests and responses sent to an HTTP sink as CloudEvents " +
      '(ce-type org.cortex.request and org.cortex.response, sharing a ce-id), off the request path. ' +
      'Absent: nothing is copied.',
  },
);
