// CloudEvents 1.0 over HTTP, binary and structured content modes
// (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md).
import type { SinkRequest } from './sender.ts';

/** Context attributes of one event; extension values are strings, numbers or booleans. */
export interface CloudEvent {
  id: string;
  source: string;
  type: string;
  time: string;
  datacontenttype: string | undefined;
  extensions: Record<string, string | number | boolean>;
  data: Buffer;
}

/** Binary mode: the body as it is, every attribute a ce- header (values percent-encoded). */
export function binaryRequest(event: CloudEvent): SinkRequest {
  const headers: Record<string, string> = {
    'ce-specversion': '1.0',
    'ce-id': encodeValue(event.id),
    'ce-source': encodeValue(event.source),
    'ce-type': encodeValue(event.type),
    'ce-time': event.time,
  };
  if (event.datacontenttype !== undefined) headers['content-type'] = event.datacontenttype;
  for (const [name, value] of Object.entries(event.extensions)) headers[`ce-${name}`] = encodeValue(String(value));
  return { headers, body: event.data };
}

/** Structured mode: one application/cloudevents+json document; a body that is not text goes in data_base64. */
export function structuredRequest(event: CloudEvent, truncated: boolean): SinkRequest {
  const doc: Record<string, unknown> = {
    specversion: '1.0',
    id: event.id,
    source: event.source,
    type: event.type,
    time: event.time,
    ...(event.datacontenttype !== undefined ? { datacontenttype: event.datacontenttype } : {}),
    ...event.extensions,
  };
  const ct = (event.datacontenttype ?? '').toLowerCase();
  const json = /^application\/([\w.+-]+\+)?json\b/.test(ct);
  if (event.data.length === 0) {
    // no data member at all
  } else if (json && !truncated) {
    try {
      doc.data = JSON.parse(event.data.toString('utf8'));
    } catch {
      doc.data = event.data.toString('utf8');
    }
  } else if (json || ct.startsWith('text/') || ct.startsWith('application/x-www-form-urlencoded')) {
    doc.data = event.data.toString('utf8');
  } else {
    doc.data_base64 = event.data.toString('base64');
  }
  return {
    headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
    body: Buffer.from(JSON.stringify(doc)),
  };
}

/**
 * A ce- header's value: space, double quote, percent and anything outside printable ASCII are
 * percent-encoded (UTF-8), as the HTTP binding asks.
 */
export function encodeValue(value: string): string {
  // fast path: nothing to encode
  if (/^[\x21\x23\x24\x26-\x7e]*$/.test(value)) return value;
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    out +=
      byte <= 0x20 || byte === 0x22 || byte === 0x25 || byte > 0x7e
        ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(byte);
  }
  return out;
}
