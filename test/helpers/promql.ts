// The metric names a PromQL expression reads, from Prometheus's own PromQL grammar
// (@prometheus-io/lezer-promql, the parser of Prometheus's web UI): every vector selector's name.
// Grafana's variables are replaced by values of their kind first, as Grafana does before sending.
import { execa } from 'execa';
import { parser } from '@prometheus-io/lezer-promql';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/** Prometheus's promtool on PATH ("" when absent), and the reason its tests skip then. */
export const PROMTOOL = (await execa('sh', ['-c', 'command -v promtool'], { reject: false })).stdout.trim();
export const NO_PROMTOOL = PROMTOOL
  ? false
  : 'promtool is not installed (Debian package prometheus; test/install-system-packages.sh installs it)';

/**
 * Grafana's `$__rate_interval` and the like become a duration; the dashboards' own variables
 * (only ever in regex label matchers) match anything, as their "All" does.
 */
export function withGrafanaVariables(expr: string): string {
  return expr.replace(/\$__(rate_)?interval|\$__range/g, '5m').replace(/\$(namespace|api)\b/g, '.*');
}

/** Metric names selected by `expr`; throws on a syntax error or a selector without a name. */
export function metricNames(expr: string): string[] {
  const text = withGrafanaVariables(expr);
  const tree = parser.parse(text);
  const names = new Set<string>();
  const problems: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError)
        problems.push(`syntax error at ${node.from}: ${JSON.stringify(text.slice(node.from, node.from + 30))}`);
      if (node.name === 'VectorSelector') {
        const id = node.node.getChild('Identifier');
        if (id === null) problems.push(`a selector without a metric name: ${text.slice(node.from, node.to)}`);
        else names.add(text.slice(id.from, id.to));
      }
    },
  });
  if (problems.length > 0) throw new Error(`${problems.join('; ')} in ${expr}`);
  return [...names];
}

export interface Exported {
  /** Every series name a family declares (`# TYPE`), a histogram's _bucket, _sum and _count. */
  declared: Set<string>;
  /** The names that have at least one sample in this scrape. */
  sampled: Set<string>;
}

/** The series names a /metrics answer (Prometheus text format) declares and has samples of. */
export function exportedNames(text: string): Exported {
  const declared = new Set<string>();
  const sampled = new Set<string>();
  for (const family of parsePrometheusTextFormat(text)) {
    const names =
      family.type === 'HISTOGRAM' ? ['_bucket', '_sum', '_count'].map((s) => family.name + s) : [family.name];
    for (const n of names) {
      declared.add(n);
      if (family.metrics.length > 0) sampled.add(n);
    }
  }
  return { declared, sampled };
}
