// The pieces of a Grafana dashboard (JSON model, schemaVersion 39) the Cortex dashboards are made
// of: a Prometheus datasource variable, query variables, rows, and time series / stat panels
// laid out on Grafana's 24-column grid. Only what the dashboards use; Grafana fills in the rest.

export interface Target {
  expr: string;
  legend: string;
}

export interface PanelSpec {
  title: string;
  description: string;
  targets: Target[];
  /** Grafana unit id: reqps, s, percentunit, short... */
  unit: string;
  /** Columns out of 24. */
  width?: number;
  kind?: 'timeseries' | 'stat';
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  variables: Variable[];
  rows: { title: string; panels: PanelSpec[] }[];
}

export interface Variable {
  name: string;
  label: string;
  /** label_values(...) query. */
  query: string;
  multi: boolean;
}

/** The q-quantile of a histogram's buckets (a selector of NAME_bucket), by `by` and le. */
export function quantileOf(q: number, buckets: string, by = ''): string {
  return `histogram_quantile(${q}, sum by (${by ? `${by}, ` : ''}le) (rate(${buckets}[$__rate_interval])))`;
}

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const PANEL_HEIGHT = 8;

function panel(spec: PanelSpec, id: number, x: number, y: number, w: number): Record<string, unknown> {
  const stat = spec.kind === 'stat';
  return {
    id,
    type: spec.kind ?? 'timeseries',
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    gridPos: { x, y, w, h: stat ? 4 : PANEL_HEIGHT },
    fieldConfig: {
      defaults: {
        unit: spec.unit,
        ...(stat ? {} : { custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 10, showPoints: 'never' } }),
      },
      overrides: [],
    },
    options: stat
      ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value' }
      : { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi', sort: 'desc' } },
    targets: spec.targets.map((t, i) => ({
      datasource: DATASOURCE,
      refId: String.fromCharCode(65 + i),
      expr: t.expr,
      legendFormat: t.legend,
      range: true,
    })),
  };
}

function variable(v: Variable): Record<string, unknown> {
  return {
    name: v.name,
    label: v.label,
    type: 'query',
    datasource: DATASOURCE,
    query: { query: v.query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    definition: v.query,
    refresh: 2,
    sort: 1,
    multi: v.multi,
    // no allValue: "All" expands to the listed values, so a regex never matches other workloads
    includeAll: v.multi,
    current: v.multi ? { text: 'All', value: '$__all' } : {},
  };
}

/** The dashboard's JSON model: rows of panels, each row filled left to right. */
export function dashboard(spec: DashboardSpec): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of spec.rows) {
    panels.push({ id: id++, type: 'row', title: row.title, collapsed: false, gridPos: { x: 0, y, w: 24, h: 1 } });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const p of row.panels) {
      const w = p.width ?? 12;
      if (x + w > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      const built = panel(p, id++, x, y, w);
      panels.push(built);
      rowHeight = Math.max(rowHeight, (built.gridPos as { h: number }).h);
      x += w;
    }
    y += rowHeight;
  }
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: ['cortex'],
    editable: true,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    timezone: 'browser',
    graphTooltip: 1,
    // the other Cortex dashboards, by their tag, keeping the time range and the variables
    links: [
      { type: 'dashboards', title: 'Cortex', tags: ['cortex'], asDropdown: true, includeVars: true, keepTime: true },
    ],
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Prometheus',
          type: 'datasource',
          query: 'prometheus',
          refresh: 1,
          current: {},
        },
        ...spec.variables.map(variable),
      ],
    },
    annotations: { list: [] },
    panels,
  };
}
