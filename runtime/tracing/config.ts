// When a replica exports traces: the standard OpenTelemetry environment variables, read from the
// replica's environment with predictor.env on top (so a cortex.yaml or a RealtimeAPI turns tracing
// on per API, and the chart or a shell for every replica). No endpoint: no tracing at all.
// https://opentelemetry.io/docs/specs/otel/protocol/exporter/

export interface TracingConfig {
  /** Where spans are POSTed (OTLP/HTTP, protobuf). */
  url: string;
  /** OTEL_EXPORTER_OTLP_(TRACES_)HEADERS: key=value pairs sent with every export. */
  headers: Record<string, string>;
  /** OTEL_SERVICE_NAME; default: the API's name. */
  serviceName: string | undefined;
  /** OTEL_BSP_SCHEDULE_DELAY: how long spans are gathered before an export (default 5000 ms). */
  scheduledDelayMs: number | undefined;
}

export class TracingConfigError extends Error {}

/**
 * The tracing settings of `env` (the process's environment with predictor.env on top), or
 * undefined when traces are off: no OTLP endpoint, OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED=true.
 */
export function tracingConfig(env: Readonly<Record<string, string | undefined>>): TracingConfig | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter === 'none') return undefined;
  if (exporter !== undefined && exporter !== '' && exporter !== 'otlp') {
    throw new TracingConfigError(`OTEL_TRACES_EXPORTER=${exporter} is not supported: use otlp (or none)`);
  }
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL)?.trim();
  if (protocol !== undefined && protocol !== '' && protocol !== 'http/protobuf') {
    throw new TracingConfigError(
      `OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported: traces are sent as http/protobuf ` +
        "(point the endpoint at the collector's OTLP/HTTP port, usually 4318)",
    );
  }
  const signal = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  // the signal's own endpoint is used as is; the generic one gets /v1/traces appended (the spec's rule)
  const url = signal ? signal : base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined;
  if (url === undefined) return undefined;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new TracingConfigError(
      `the OTLP endpoint ${JSON.stringify(url)} is not an http:// or https:// URL ` +
        '(OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, e.g. http://otel-collector:4318)',
    );
  }
  const delay = Number(env.OTEL_BSP_SCHEDULE_DELAY);
  return {
    url,
    headers: parseHeaders(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS ?? env.OTEL_EXPORTER_OTLP_HEADERS),
    serviceName: env.OTEL_SERVICE_NAME?.trim() || undefined,
    scheduledDelayMs: Number.isFinite(delay) && delay > 0 ? delay : undefined,
  };
}

/** `k1=v1,k2=v2` (values percent-encoded), as OTEL_EXPORTER_OTLP_HEADERS is written. */
function parseHeaders(text: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of (text ?? '').split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    headers[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1).trim());
  }
  return headers;
}
