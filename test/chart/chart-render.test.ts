// The chart's metricsApi values, rendered by the real helm (the test cluster's binary; no cluster
// needed): the builtin provider renders exactly the Service and APIServices the operator's code
// says its metrics API needs (metricsApiObjects in operator/metrics-adapter/manifests.ts, so the
// two cannot drift) and runs the operator with the matching flags; prometheus-adapter renders no
// APIService, turns the operator's API off and ships the adapter's rules and a PodMonitor that
// selects the API replicas the operator makes. test/chart/chart.cluster-test.ts applies them.
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { parse, parseAllDocuments } from 'yaml';
import { applyDefaults } from '../../operator/api/v1alpha1/index.ts';
import { metricsApiObjects } from '../../operator/metrics-adapter/manifests.ts';
import { desiredDeployment } from '../../operator/reconcilers/deployment.ts';
import { mergeRules } from '../../operator/rbac.ts';
import { cliUserRules } from '../../cli/cluster/rbac.ts';
import { ensureBinaries } from '../cluster/build.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHART = path.join(repo, 'charts', 'cortex');
const NS = 'cortex-system';
const PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from kubectl, read field by field
type Obj = any;

describe('the chart renders the metrics API and the activator', () => {
  let helmBin: string;
  const helm = async (args: string[]) => {
    const r = await execa(helmBin, args, {
      reject: false,
      timeout: 60_000,
      env: { HELM_CONFIG_HOME: '/nonexistent', KUBECONFIG: '/nonexistent' },
    });
    return { code: r.exitCode, out: r.stdout, err: r.stderr };
  };
  const render = async (release: string, ...args: string[]): Promise<Obj[]> => {
    const r = await helm(['template', release, CHART, '-n', NS, ...args]);
    assert.equal(r.code, 0, `helm template ${args.join(' ')}:\n${r.err}`);
    return parseAllDocuments(r.out)
      .map((d) => d.toJS())
      .filter(Boolean);
  };
  const operatorContainer = (objs: Obj[]) => objs.find((o) => o.kind === 'Deployment').spec.template.spec.containers[0];
  const metricsApi = (objs: Obj[]) =>
    objs.filter((o) => o.kind === 'APIService' || (o.kind === 'Service' && o.metadata.name.endsWith('-metrics-api')));

  before(
    async () => {
      helmBin = (await ensureBinaries()).helm;
    },
    { timeout: 60 * 60_000 },
  );

  test('helm lint --strict passes with each provider and with the metrics API off', async () => {
    const variants = [
      [],
      ['--set-string', `metricsApi.tls.secretName=tls`, '--set-string', `metricsApi.tls.caBundle=${PEM}`],
      [
        '--set',
        'metricsApi.provider=prometheus-adapter',
        '--set',
        'metricsApi.prometheusAdapter.rulesConfigMap=true',
        '--set',
        'metricsApi.prometheusAdapter.podMonitor.enabled=true',
      ],
      ['--set', 'metricsApi.enabled=false'],
    ];
    for (const args of variants) {
      const r = await helm(['lint', CHART, '--strict', ...args]);
      assert.equal(r.code, 0, `${args.join(' ')}\n${r.out}\n${r.err}`);
      assert.doesNotMatch(r.out, /\[(WARNING|ERROR)\]/, args.join(' '));
    }
  });

  test('bad metricsApi values are refused with the path of the value and the fix', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['--set', 'metricsApi.provider=keda'],
        /metricsApi.provider: metricsApi.provider must be one of the following: "builtin", "prometheus-adapter"/,
      ],
      [['--set', 'metricsApi.port=70000'], /metricsApi.port: Must be less than or equal to 65535/],
      [['--set', 'metricsApi.scrapeInterval=often'], /metricsApi.scrapeInterval: Does not match pattern/],
      [['--set', 'metricsApi.tls.caBundle=LS0tLS1CRUdJTg=='], /metricsApi.tls.caBundle: Does not match pattern/],
      [
        ['--set', 'metricsApi.tls.secretName=tls'],
        /metricsApi.tls.caBundle: with metricsApi.tls.secretName=tls, give the PEM CA that signed its certificate/,
      ],
      [
        ['--set-string', `metricsApi.tls.caBundle=${PEM}`],
        /metricsApi.tls.secretName: metricsApi.tls.caBundle is set but no Secret holds the certificate it signed/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await helm(['template', 'cortex', CHART, ...args]);
      assert.notEqual(r.code, 0, `${args.join(' ')} was accepted`);
      assert.match(r.err, message, args.join(' '));
    }
  });

  test('builtin: the Service and both APIServices are metricsApiObjects() for the same settings', async () => {
    const cases: {
      release: string;
      args: string[];
      fullname: string;
      port: number;
      targetPort: number;
      caBundle?: string;
    }[] = [
      { release: 'cortex', args: [], fullname: 'cortex', port: 443, targetPort: 6443 },
      {
        release: 'ml',
        args: ['--set', 'metricsApi.port=7443', '--set', 'metricsApi.service.port=8443'],
        fullname: 'ml-cortex',
        port: 8443,
        targetPort: 7443,
      },
      {
        release: 'cortex',
        args: [
          '--set',
          'fullnameOverride=cx',
          '--set',
          'metricsApi.tls.secretName=tls',
          '--set-string',
          `metricsApi.tls.caBundle=${PEM}`,
        ],
        fullname: 'cx',
        port: 443,
        targetPort: 6443,
        caBundle: PEM,
      },
    ];
    for (const c of cases) {
      const objs = await render(c.release, ...c.args);
      const deployment = objs.find((o) => o.kind === 'Deployment');
      const expected = metricsApiObjects({
        namespace: NS,
        serviceName: `${c.fullname}-metrics-api`,
        port: c.port,
        targetPort: c.targetPort,
        selector: deployment.spec.selector.matchLabels,
        labels: deployment.metadata.labels,
        caBundle: c.caBundle,
      });
      const byName = (a: Obj, b: Obj) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`);
      assert.deepEqual(metricsApi(objs).sort(byName), expected.sort(byName), c.args.join(' '));
      // the Service reaches the operator: it selects the Deployment's pods, on a port the container declares
      const container = operatorContainer(objs);
      assert.ok(
        container.ports.some((p: Obj) => p.name === 'metrics-api' && p.containerPort === c.targetPort),
        JSON.stringify(container.ports),
      );
      assert.ok(container.args.includes(`--metrics-api-port=${c.targetPort}`), container.args.join(' '));
      assert.ok(container.args.includes('--metrics-scrape-interval=1s'));
      assert.ok(!container.args.includes('--no-metrics-api'));
    }
  });

  test(
    'builtin with a TLS Secret: mounted read-only, passed as --metrics-api-cert-file/--metrics-api-key-file, ' +
      'the APIServices verify with the caBundle',
    async () => {
      const objs = await render(
        'cortex',
        '--set',
        'metricsApi.tls.secretName=cortex-metrics-api-tls',
        '--set-string',
        `metricsApi.tls.caBundle=${PEM}`,
      );
      const pod = objs.find((o) => o.kind === 'Deployment').spec.template.spec;
      const container = operatorContainer(objs);
      assert.deepEqual(pod.volumes, [{ name: 'metrics-api-tls', secret: { secretName: 'cortex-metrics-api-tls' } }]);
      const mount = container.volumeMounts.find((m: Obj) => m.name === 'metrics-api-tls');
      assert.equal(mount.readOnly, true);
      assert.ok(
        container.args.includes(`--metrics-api-cert-file=${mount.mountPath}/tls.crt`),
        container.args.join(' '),
      );
      assert.ok(container.args.includes(`--metrics-api-key-file=${mount.mountPath}/tls.key`));
      for (const s of objs.filter((o) => o.kind === 'APIService')) {
        assert.equal(Buffer.from(s.spec.caBundle, 'base64').toString(), PEM);
        assert.equal(s.spec.insecureSkipTLSVerify, undefined, 'the API server rejects both at once');
      }
      const plain = await render('cortex');
      assert.equal(objs.find((o) => o.kind === 'Deployment').spec.template.spec.volumes.length, 1);
      assert.equal(
        plain.find((o) => o.kind === 'Deployment').spec.template.spec.volumes,
        undefined,
        'no Secret: no volume',
      );
    },
  );

  test(
    'prometheus-adapter: the operator runs with --no-metrics-api, no APIService, ' +
      'the rules ConfigMap is the shipped file, the PodMonitor selects the replicas the operator makes',
    async () => {
      const objs = await render(
        'cortex',
        '--set',
        'metricsApi.provider=prometheus-adapter',
        '--set',
        'metricsApi.prometheusAdapter.rulesConfigMap=true',
        '--set',
        'metricsApi.prometheusAdapter.podMonitor.enabled=true',
        '--set',
        'metricsApi.prometheusAdapter.podMonitor.labels.release=prom',
      );
      assert.deepEqual(metricsApi(objs), []);
      const container = operatorContainer(objs);
      assert.ok(container.args.includes('--no-metrics-api'), container.args.join(' '));
      assert.ok(!container.args.some((a: string) => a.startsWith('--metrics-api-port')));
      assert.ok(!container.ports.some((p: Obj) => p.name === 'metrics-api'));

      const shipped = parse(readFileSync(path.join(CHART, 'files', 'prometheus-adapter-rules.yaml'), 'utf8'));
      const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'cortex-prometheus-adapter');
      assert.deepEqual(parse(cm.data['config.yaml']), { rules: shipped.rules.custom });

      const pm = objs.find((o) => o.kind === 'PodMonitor');
      assert.equal(pm.apiVersion, 'monitoring.coreos.com/v1');
      assert.equal(pm.metadata.labels.release, 'prom');
      assert.deepEqual(pm.spec.namespaceSelector, { any: true });
      // an API's pod as the operator writes it
      const name = 'iris';
      const api = {
        name,
        namespace: 'ml',
        uid: 'u',
        generation: 1,
        spec: applyDefaults(name, { predictor: { type: 'python', path: 'predictor.py' } }),
      };
      const template = desiredDeployment(api, {
        runtimeImage: 'r:1',
        hpaTolerance: true,
        clusterDomain: 'cluster.local',
        placement: { nodeSelector: {}, tolerations: [] },
      } as never).spec!.template;
      for (const e of pm.spec.selector.matchExpressions) {
        assert.equal(e.operator, 'Exists');
        assert.ok(e.key in template.metadata!.labels!, `the replicas carry ${e.key}`);
      }
      const [endpoint] = pm.spec.podMetricsEndpoints;
      const port = template.spec!.containers[0].ports!.find((p) => p.name === endpoint.port);
      assert.ok(port, `the replicas' container has a port named ${endpoint.port}`);
      assert.equal(String(port.containerPort), template.metadata!.annotations!['prometheus.io/port']);
      assert.equal(endpoint.path, template.metadata!.annotations!['prometheus.io/path']);

      const bare = await render('cortex', '--set', 'metricsApi.provider=prometheus-adapter');
      assert.deepEqual(
        bare.filter((o) => o.kind === 'PodMonitor' || o.metadata.name === 'cortex-prometheus-adapter'),
        [],
        'both off by default',
      );
    },
  );

  test('dependencyCache: the node folder and its cap reach the operator; hostPath "" turns it off', async () => {
    const args = (objs: Obj[]) =>
      operatorContainer(objs).args.filter((a: string) => a.startsWith('--dependency-cache-'));
    assert.deepEqual(args(await render('cortex')), [
      '--dependency-cache-dir=/var/lib/cortex/dependency-cache',
      '--dependency-cache-size=20Gi',
    ]);
    const off = await render('cortex', '--set', 'dependencyCache.hostPath=', '--set', 'dependencyCache.maxSize=5Gi');
    assert.deepEqual(args(off), ['--dependency-cache-dir=', '--dependency-cache-size=5Gi']);
    await assert.rejects(render('cortex', '--set', 'dependencyCache.maxSize=lots'), /dependencyCache.maxSize/);
  });

  test('metricsApi.enabled=false: --no-metrics-api and nothing of either provider', async () => {
    const objs = await render(
      'cortex',
      '--set',
      'metricsApi.enabled=false',
      '--set',
      'metricsApi.prometheusAdapter.podMonitor.enabled=true',
    );
    assert.ok(operatorContainer(objs).args.includes('--no-metrics-api'));
    assert.deepEqual(
      objs.filter((o) => ['APIService', 'PodMonitor'].includes(o.kind) || o.metadata.name.endsWith('-metrics-api')),
      [],
    );
  });

  test(
    'the activator: its port and timeout as flags, the pod IP as CORTEX_ACTIVATOR_ADDRESS; ' +
      'activator.enabled=false turns it off',
    async () => {
      const on = operatorContainer(
        await render('cortex', '--set', 'activator.port=9999', '--set', 'activator.timeout=30s'),
      );
      assert.ok(
        on.args.includes('--activator-port=9999') && on.args.includes('--activator-timeout=30s'),
        on.args.join(' '),
      );
      assert.deepEqual(on.env, [
        { name: 'CORTEX_ACTIVATOR_ADDRESS', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      ]);
      assert.deepEqual(
        on.ports.find((p: Obj) => p.name === 'activator'),
        { name: 'activator', containerPort: 9999, protocol: 'TCP' },
      );
      const off = operatorContainer(await render('cortex', '--set', 'activator.enabled=false'));
      assert.ok(off.args.includes('--activator-port=0'));
      assert.equal(off.env, undefined, 'no address: nothing goes to zero');
      assert.equal(
        off.ports.find((p: Obj) => p.name === 'activator'),
        undefined,
      );
    },
  );

  test(
    'the user role: exactly the rules the CLI declares, aggregated into edit/admin; ' +
      'rbac.userRole.create=false leaves it out',
    async () => {
      const role = (await render('cortex')).find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'cortex-user');
      assert.deepEqual(role.rules, mergeRules(cliUserRules));
      assert.equal(role.metadata.labels['rbac.authorization.k8s.io/aggregate-to-edit'], 'true');
      const plain = (await render('cortex', '--set', 'rbac.userRole.aggregateToEdit=false')).find(
        (o) => o.metadata.name === 'cortex-user',
      );
      assert.equal(plain.metadata.labels['rbac.authorization.k8s.io/aggregate-to-edit'], undefined);
      assert.equal(
        (await render('cortex', '--set', 'rbac.userRole.create=false')).find((o) => o.metadata.name === 'cortex-user'),
        undefined,
      );
    },
  );
});
