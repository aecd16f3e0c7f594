// A small OTLP/HTTP trace receiver on loopback, made for the tests: it decodes what an OpenTelemetry
// exporter POSTs to /v1/traces (OTLP/HTTP protobuf, what the runtime sends) with the messages of opentelemetry-proto's
// trace.proto it needs (field numbers as there), and keeps the spans.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

// opentelemetry-proto v1: collector/trace/v1/trace_service.proto, trace/v1/trace.proto, common/v1/common.proto
const PROTO = `
syntax = "proto3";
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; string name = 5;
  int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; repeated Link links = 13; Status status = 15;
}
message Link { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; }
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; }
}
`;
const Request = protobuf.parse(PROTO, { keepCase: true }).root.lookupType('ExportTraceServiceRequest');

/** One span as received, ids in lowercase hex. */
export interface ReceivedSpan {
  service: string | undefined;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  links: { traceId: string; spanId: string }[];
  statusCode: number;
}

export interface OtlpReceiver {
  /** The endpoint to configure (OTEL_EXPORTER_OTLP_ENDPOINT): spans arrive at <it>/v1/traces. */
  endpoint: string;
  spans: ReceivedSpan[];
  /** Content types of the exports received. */
  contentTypes: string[];
  close(): Promise<void>;
}

interface KeyValue {
  key: string;
  value?: { string_value?: string; bool_value?: boolean; int_value?: number | string; double_value?: number };
}
interface WireSpan {
  trace_id: Buffer;
  span_id: Buffer;
  parent_span_id?: Buffer;
  name: string;
  kind?: number;
  attributes?: KeyValue[];
  links?: { trace_id: Buffer; span_id: Buffer }[];
  status?: { code?: number };
}
interface WireRequest {
  resource_spans?: { resource?: { attributes?: KeyValue[] }; scope_spans?: { spans?: WireSpan[] }[] }[];
}

function attributes(list: KeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    const v = value?.string_value ?? value?.bool_value ?? value?.int_value ?? value?.double_value;
    if (v !== undefined) out[key] = typeof v === 'string' && value?.int_value !== undefined ? Number(v) : v;
  }
  return out;
}

const hex = (b: Buffer | undefined) => Buffer.from(b ?? []).toString('hex');

export async function otlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const contentTypes: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const type = req.headers['content-type'] ?? '';
      contentTypes.push(type);
      if (type !== 'application/x-protobuf') {
        res.writeHead(415).end();
        return;
      }
      const decoded = Request.toObject(Request.decode(body), { longs: Number, bytes: Buffer }) as WireRequest;
      for (const rs of decoded.resource_spans ?? []) {
        const service = attributes(rs.resource?.attributes)['service.name'];
        for (const ss of rs.scope_spans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              service: typeof service === 'string' ? service : undefined,
              traceId: hex(s.trace_id),
              spanId: hex(s.span_id),
              parentSpanId: hex(s.parent_span_id),
              name: s.name,
              kind: s.kind ?? 0,
              attributes: attributes(s.attributes),
              links: (s.links ?? []).map((l) => ({ traceId: hex(l.trace_id), spanId: hex(l.span_id) })),
              statusCode: s.status?.code ?? 0,
            });
          }
        }
      }
      // an empty ExportTraceServiceResponse
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    contentTypes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
