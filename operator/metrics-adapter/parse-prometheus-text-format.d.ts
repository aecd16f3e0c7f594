// Types of parse-prometheus-text-format (the package ships none): its output mirrors prom2json.
declare module 'parse-prometheus-text-format' {
  export interface Sample {
    /** The value as written ("3", "1.5e3", "NaN", "+Inf"); not checked by the parser. */
    value?: string;
    labels?: Record<string, string>;
    timestamp_ms?: string;
    buckets?: Record<string, string>;
    quantiles?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  export interface MetricFamily {
    name: string;
    help: string;
    type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    metrics: Sample[];
  }
  export default function parsePrometheusTextFormat(text: string): MetricFamily[];
}
