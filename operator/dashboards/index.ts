// The Grafana dashboards the chart ships (charts/cortex/files/dashboards, rendered into a
// ConfigMap for Grafana's dashboard sidecar by templates/dashboards.yaml). `npm run manifests`
// writes them; operator/api/generate-chart.test.ts fails when the committed files differ.
import { apiDashboard } from './api-dashboard.ts';
import { clusterDashboard } from './cluster-dashboard.ts';
import { dashboard } from './grafana.ts';

/** Chart-relative path of each dashboard file and its JSON text. */
export function dashboardFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const spec of [apiDashboard, clusterDashboard]) {
    files[`files/dashboards/${spec.uid}.json`] = `${JSON.stringify(dashboard(spec), null, 2)}\n`;
  }
  return files;
}
