// The chart's generated files are what the code generates (one source of truth: the spec for the
// CRD, operator/rbac.ts for the RBAC rules), and the chart's values agree with the operator:
// values.schema.json accepts exactly the node pools the operator's parser accepts, the documented
// GPU example is valid, and the defaults are the operator's own.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse, stringify } from 'yaml';
import { mergeRules, operatorRules } from '../rbac.ts';
import { parseNodePools } from '../node-pools.ts';
import { DEFAULT_RUNTIME_IMAGE, DEFAULT_GPU_RUNTIME_IMAGE } from '../flags.ts';
import { operatorCommand } from '../main.ts';
import { CRD_PATH } from './generate-crd.ts';
import {
  CHART_CRD_PATH,
  CHART_DIR,
  CHART_RBAC_RULES_PATH,
  CHART_USER_RULES_PATH,
  chartFiles,
} from './generate-chart.ts';
import { cliUserRules } from '../../cli/cluster/rbac.ts';
import { DURATION_PATTERN, parseDurationMs } from './v1alpha1/index.ts';
import { metricsApiObjects } from '../metrics-adapter/manifests.ts';
import { DEFAULT_WINDOW_MS } from '../metrics-adapter/scraper.ts';
import { IN_FLIGHT_METRIC } from '../reconcilers/hpa.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
const schema = JSON.parse(read(`${CHART_DIR}/values.schema.json`)) as {
  definitions: Record<string, { pattern?: string }>;
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the chart's values, read field by field
const values = parse(read(`${CHART_DIR}/values.yaml`)) as Record<string, any>;
const chart = parse(read(`${CHART_DIR}/Chart.yaml`)) as { appVersion: string; apiVersion: string };
const validate = new Ajv({ allErrors: true, allowUnionTypes: true }).compile(schema);

function schemaAccepts(v: unknown): boolean {
  return validate(v) === true;
}

test(`${CHART_CRD_PATH} and ${CHART_RBAC_RULES_PATH} are up to date (run npm run manifests)`, () => {
  for (const [file, text] of Object.entries(chartFiles())) {
    assert.equal(
      read(file),
      text,
      `${file} differs from what the code generates: run npm run manifests and commit the result`,
    );
  }
  assert.equal(read(CHART_CRD_PATH), read(CRD_PATH), 'the chart installs the very CRD crds/ holds');
  assert.deepEqual(parse(read(CHART_RBAC_RULES_PATH)), operatorRules(), 'the chart grants exactly the declared rules');
  assert.deepEqual(
    parse(read(CHART_USER_RULES_PATH)).rules,
    mergeRules(cliUserRules),
    'the user role grants exactly what the CLI declares',
  );
});

test('Chart.yaml: Helm 3 (apiVersion v2), appVersion is the package version (the images are tagged with it)', () => {
  const pkg = JSON.parse(read('package.json')) as { version: string };
  assert.equal(chart.apiVersion, 'v2');
  assert.equal(chart.appVersion, pkg.version);
});

test('values.yaml passes values.schema.json, which is JSON Schema draft-07 (what helm enforces)', () => {
  assert.equal((schema as { $schema?: string }).$schema, 'http://json-schema.org/draft-07/schema#');
  assert.ok(schemaAccepts(values), JSON.stringify(validate.errors));
  assert.ok(!schemaAccepts({ ...values, replicas: 2 }), 'unknown top-level keys are refused');
  assert.ok(!schemaAccepts({ ...values, replicaCount: 0 }));
});

test(
  "the GPU example in values.yaml's comments is ci/gpu-values.yaml, " +
    'and the operator reads it as a CPU and a GPU pool',
  () => {
    const text = read(`${CHART_DIR}/values.yaml`);
    const block = /# --- example: node pools ---\n([\s\S]*?)# --- end of example ---/.exec(text);
    assert.ok(block, 'values.yaml has the marked example');
    const example = parse(
      block[1]
        .split('\n')
        .map((l) => l.replace(/^# ?/, ''))
        .join('\n'),
    );
    assert.deepEqual(example, parse(read(`${CHART_DIR}/ci/gpu-values.yaml`)));
    assert.ok(schemaAccepts({ ...values, ...example }), JSON.stringify(validate.errors));
    const pools = parseNodePools(stringify(example.nodePools));
    assert.deepEqual(
      pools.map((p) => [p.name, p.gpuResource]),
      [
        ['cpu', undefined],
        ['gpu', 'nvidia.com/gpu'],
      ],
    );
    assert.deepEqual(pools[1].tolerations, [
      { key: 'nvidia.com/gpu', operator: 'Equal', value: 'present', effect: 'NoSchedule' },
    ]);
  },
);

test("values.schema.json accepts exactly the node pools the operator's parser accepts", () => {
  const cases: [string, unknown][] = [
    [
      'a full GPU pool',
      {
        name: 'gpu',
        nodeSelector: { pool: 'gpu', spot: true },
        tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }],
        gpuResource: 'nvidia.com/gpu',
        gpuType: 'A10G',
      },
    ],
    ['gpuResource null', { name: 'cpu', gpuResource: null, gpuType: null }],
    ['only a name', { name: 'any' }],
    ['no name', { nodeSelector: { pool: 'cpu' } }],
    ['an empty name', { name: '' }],
    ['an unknown field', { name: 'cpu', nodeSelectors: { pool: 'cpu' } }],
    ['a gpuResource that is no extended resource name', { name: 'gpu', gpuResource: 'gpu' }],
    ['a misspelt taint effect', { name: 'gpu', tolerations: [{ key: 'k', effect: 'NoSchedul' }] }],
    ['an unknown toleration operator', { name: 'gpu', tolerations: [{ key: 'k', operator: 'In' }] }],
    ['tolerations that are no list', { name: 'gpu', tolerations: { key: 'k' } }],
    ['a nodeSelector that is no mapping', { name: 'gpu', nodeSelector: 'pool=gpu' }],
    ['a nested nodeSelector value', { name: 'gpu', nodeSelector: { pool: { name: 'gpu' } } }],
    ['a pool that is no mapping', 'gpu'],
  ];
  for (const [what, pool] of cases) {
    let parserAccepts = true;
    try {
      parseNodePools(stringify([pool]));
    } catch {
      parserAccepts = false;
    }
    assert.equal(
      schemaAccepts({ ...values, nodePools: [pool] }),
      parserAccepts,
      `${what}: the schema says ${!parserAccepts}, the operator ${parserAccepts}`,
    );
  }
});

test("the chart's defaults are the operator's: flags, runtime image, and the duration syntax", () => {
  assert.equal(schema.definitions.duration.pattern, DURATION_PATTERN);
  assert.equal(
    `${values.runtimeImage.repository}:${values.runtimeImage.tag || chart.appVersion}`,
    DEFAULT_RUNTIME_IMAGE,
  );
  assert.equal(
    `${values.runtimeImage.repository}:${values.runtimeImage.gpuTag || `${chart.appVersion}-gpu`}`,
    DEFAULT_GPU_RUNTIME_IMAGE,
  );
  const flag = (long: string) => operatorCommand().options.find((o) => o.long === long)?.defaultValue as unknown;
  assert.equal(String(values.healthPort), flag('--health-port'));
  assert.equal(String(values.workers), flag('--workers'));
  assert.equal(values.resync, flag('--resync'));
  assert.equal(values.clusterDomain, flag('--cluster-domain'));
  assert.equal(values.logLevel, flag('--log-level'));
  assert.deepEqual(values.leaderElection, {
    leaseDuration: flag('--lease-duration'),
    renewDeadline: flag('--renew-deadline'),
    retryPeriod: flag('--retry-period'),
  });
  assert.equal(values.metrics.service.port, values.healthPort);
  assert.equal(String(values.metricsApi.port), flag('--metrics-api-port'));
  assert.equal(values.metricsApi.scrapeInterval, flag('--metrics-scrape-interval'));
  const service = metricsApiObjects({ namespace: 'x' })[0] as { spec: { ports: { port: number }[] } };
  assert.equal(
    values.metricsApi.service.port,
    service.spec.ports[0].port,
    "the Service's port is metricsApiObjects' default",
  );
  assert.equal(values.metricsApi.provider, 'builtin', 'autoscaling works with nothing else installed');
  assert.equal(String(values.activator.port), flag('--activator-port'));
  assert.equal(values.activator.timeout, flag('--activator-timeout'));
});

test('values.schema.json refuses an unknown metricsApi.provider and a caBundle that is no PEM certificate', () => {
  const withMetricsApi = (patch: Record<string, unknown>) => ({
    ...values,
    metricsApi: { ...values.metricsApi, ...patch },
  });
  assert.ok(schemaAccepts(withMetricsApi({ provider: 'prometheus-adapter' })), JSON.stringify(validate.errors));
  assert.ok(!schemaAccepts(withMetricsApi({ provider: 'keda' })));
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  assert.ok(
    schemaAccepts(withMetricsApi({ tls: { secretName: 's', caBundle: pem } })),
    JSON.stringify(validate.errors),
  );
  assert.ok(
    !schemaAccepts(withMetricsApi({ tls: { secretName: 's', caBundle: Buffer.from(pem).toString('base64') } })),
    'base64 of the PEM is refused: the chart encodes it',
  );
  assert.ok(!schemaAccepts(withMetricsApi({ scrapeInterval: 'often' })));
  assert.ok(!schemaAccepts(withMetricsApi({ prometheusAdapter: { podMonitors: {} } })));
});

test(
  "files/prometheus-adapter-rules.yaml serves the HPAs' metric per pod, " +
    "averaged over the built-in adapter's default window",
  () => {
    type Rule = {
      seriesQuery: string;
      resources: { overrides: Record<string, { resource: string }> };
      name: { matches: string; as: string };
      metricsQuery: string;
    };
    const rules = parse(read(`${CHART_DIR}/files/prometheus-adapter-rules.yaml`)) as { rules: { custom: Rule[] } };
    assert.equal(rules.rules.custom.length, 1);
    const [rule] = rules.rules.custom;
    assert.equal(rule.name.as, IN_FLIGHT_METRIC, 'the metric name the HPAs ask for');
    assert.match(rule.seriesQuery, new RegExp(`^${IN_FLIGHT_METRIC}\\{`), 'the gauge the replicas export');
    assert.deepEqual(
      rule.resources.overrides,
      { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } },
      'a pods metric',
    );
    const range = /avg_over_time\(<<\.Series>>\{<<\.LabelMatchers>>\}\[(\w+)\]\)/.exec(rule.metricsQuery);
    assert.ok(range, `a mean over time: ${rule.metricsQuery}`);
    assert.equal(parseDurationMs(range[1]), DEFAULT_WINDOW_MS, 'the default autoscaling.window');
    assert.match(rule.metricsQuery, /^avg by \(<<\.GroupBy>>\)/, 'one value per pod, a pod scraped twice counts once');
  },
);

test('docs/install.md lists every value of the chart', () => {
  const docs = read('docs/install.md');
  // a leaf is a key whose schema says no more about its inside (a scalar, a list, a free-form object)
  const leaves = (node: { properties?: Record<string, object> }, at: string): string[] =>
    node.properties
      ? Object.entries(node.properties).flatMap(([k, child]) => leaves(child, at ? `${at}.${k}` : k))
      : [at];
  const keys = leaves(schema as { properties?: Record<string, object> }, '');
  assert.ok(keys.length > 30);
  assert.deepEqual(
    keys.filter((k) => !docs.includes(`| \`${k}\` |`)),
    [],
    'values missing from the table in docs/install.md',
  );
});
