// The Helm chart (charts/cortex) against a real control plane (test/cluster: kube-apiserver,
// controller-manager, scheduler, etcd, kwok's fake nodes) with the helm binary it builds: lint,
// the values schema, a server-side dry run (both metrics API providers), a real install whose
// operator pod is scheduled onto a kwok node and whose APIServices register its metrics API,
// then the operator itself, run as a local process from its image's entrypoint with
// the Deployment's own args, impersonating the chart's ServiceAccount: only the chart's RBAC and
// the chart's node pools, a CPU and a GPU API go live. Finally helm uninstall cleans up.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import { freePort } from '../helpers/local.ts';
import { kubeconfigAs } from '../helpers/identity.ts';
import { readDockerfile, repoPathOf } from '../images/dockerfile.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHART = path.join(repo, 'charts', 'cortex');
const GPU_VALUES = path.join(CHART, 'ci', 'gpu-values.yaml');
const BUILD_TIMEOUT_MS = 60 * 60_000;
const RELEASE = 'cortex';
const NS = 'cortex'; // not cortex-system (the operator's default): the chart must say where
const FULLNAME = 'cortex'; // the release name contains the chart name
const SA_USER = `system:serviceaccount:${NS}:${FULLNAME}`;
const APPS = 'ml';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely-typed JSON from kubectl, read field by field
type Obj = any;

describe('the Helm chart on a real control plane', { concurrency: false }, () => {
  let dir: string;
  let cluster: Cluster;
  let operator: ResultPromise | undefined;
  const logs: string[] = [];

  /** helm with the test cluster's kubeconfig and its own config/cache/data folders. */
  const helm = async (args: string[], input?: string) => {
    const r = await execa(cluster.binaries.helm, args, {
      env: {
        KUBECONFIG: cluster.kubeconfig,
        HELM_CONFIG_HOME: path.join(dir, 'helm', 'config'),
        HELM_CACHE_HOME: path.join(dir, 'helm', 'cache'),
        HELM_DATA_HOME: path.join(dir, 'helm', 'data'),
      },
      input,
      reject: false,
      timeout: 180_000,
    });
    return { code: r.exitCode, out: r.stdout, err: r.stderr };
  };
  const helmOk = async (args: string[]) => {
    const r = await helm(args);
    assert.equal(r.code, 0, `helm ${args.join(' ')}:\n${r.out}\n${r.err}`);
    return r.out;
  };
  const k = (args: string[], input?: string) => cluster.kubectl(args, { input });
  const get = (kind: string, name: string, ns: string): Promise<Obj> =>
    cluster.kubectl.json(['get', kind, name, '-n', ns]);
  const docs = (yaml: string): Obj[] =>
    parseAllDocuments(yaml)
      .map((d) => d.toJS())
      .filter(Boolean);

  before(
    async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'cortex-chart-test-'));
      // no CRDs from the repository: the chart installs them
      cluster = await startCluster({ stateDir: path.join(dir, 'state'), nodePoolsFile: false, crdsDir: false });
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    operator?.kill('SIGTERM');
    await operator?.catch(() => undefined);
    if (process.exitCode || logs.some((l) => /"level":"(warning|error)"/.test(l))) {
      process.stderr.write(`--- operator log (last 40 lines) ---\n${logs.slice(-40).join('\n')}\n`);
    }
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('helm lint passes, also --strict, with the default values and with the GPU node pools example', async () => {
    for (const extra of [[], ['-f', GPU_VALUES]]) {
      const out = await helmOk(['lint', CHART, '--strict', ...extra]);
      assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(out, /\[(WARNING|ERROR)\]/);
    }
  });

  test('bad values are refused with the path of the value and why', async () => {
    const cases: [string[], RegExp][] = [
      [['--set', 'replicaCount=0'], /replicaCount: Must be greater than or equal to 1/],
      [['--set', 'replicaCount=two'], /replicaCount: Invalid type. Expected: integer, given: string/],
      [['--set', 'replicas=2'], /\(root\): Additional property replicas is not allowed/],
      [
        ['--set', 'image.pullPolicy=Sometimes'],
        /image.pullPolicy: image.pullPolicy must be one of the following: "Always", "IfNotPresent", "Never"/,
      ],
      [['--set', 'resync=soon'], /resync: Does not match pattern/],
      [['--set-json', 'nodePools=[{"nodeSelector":{"pool":"gpu"}}]'], /nodePools.0: name is required/],
      [
        ['--set-json', 'nodePools=[{"name":"gpu","gpuResource":"gpu"}]'],
        /nodePools.0.gpuResource: Does not match pattern/,
      ],
      [
        ['--set-json', 'nodePools=[{"name":"gpu","tolerations":[{"effect":"NoSchedul"}]}]'],
        /nodePools.0.tolerations.0.effect: .*must be one of the following: "NoSchedule", "PreferNoSchedule", "NoExecute"/,
      ],
      [
        ['--set-json', 'nodePools=[{"name":"a"},{"name":"a"}]'],
        /nodePools\[1\]: pool "a" is listed twice \(nodePools\[0\] has the same name\); give each pool its own name/,
      ],
      [
        ['--set', 'serviceAccount.create=false'],
        /serviceAccount.name: with serviceAccount.create=false, name the existing ServiceAccount/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await helm(['template', RELEASE, CHART, ...args]);
      assert.notEqual(r.code, 0, `${args.join(' ')} was accepted`);
      assert.match(r.err, message, args.join(' '));
    }
  });

  test(
    'helm template | kubectl apply --dry-run=server is accepted, ' + 'CRD included, with either metrics API provider',
    async () => {
      // two ClusterRoles: the operator's and the user role (<release>-user); a CRD per file of the
      // chart's crds/ (RealtimeAPI, TrafficSplitter, BatchAPI, BatchJob, TaskAPI, TaskJob)
      const crds = readdirSync(path.join(CHART, 'crds')).filter((f) => f.endsWith('.yaml'));
      assert.equal(crds.length, 6, crds.join(' '));
      const common = [
        'ClusterRole',
        'ClusterRole',
        'ClusterRoleBinding',
        'ConfigMap',
        ...crds.map(() => 'CustomResourceDefinition'),
        'Deployment',
        'Role',
        'RoleBinding',
        'Service',
        'ServiceAccount',
      ];
      const variants: [string[], string[]][] = [
        [[], [...common, 'APIService', 'APIService', 'Service']],
        // the PodMonitor needs the Prometheus Operator's CRDs, which this cluster has not
        [
          [
            '--set',
            'metricsApi.provider=prometheus-adapter',
            '--set',
            'metricsApi.prometheusAdapter.rulesConfigMap=true',
          ],
          [...common, 'ConfigMap'],
        ],
      ];
      for (const [args, expected] of variants) {
        const rendered = await helmOk([
          'template',
          RELEASE,
          CHART,
          '-n',
          'cortex-system',
          '--include-crds',
          '-f',
          GPU_VALUES,
          ...args,
        ]);
        const kinds = docs(rendered)
          .map((o) => o.kind)
          .sort();
        assert.deepEqual(kinds, expected.sort(), args.join(' '));
        const out = await k(['apply', '--dry-run=server', '-f', '-'], rendered);
        assert.equal(
          out
            .trim()
            .split('\n')
            .filter((l) => l.endsWith('(server dry run)')).length,
          kinds.length,
          out,
        );
      }
    },
  );

  test(
    'serviceMonitor.enabled renders a monitoring.coreos.com/v1 ' +
      'ServiceMonitor that selects the metrics Service by its port name',
    async () => {
      const objs = docs(
        await helmOk([
          'template',
          RELEASE,
          CHART,
          '-n',
          NS,
          '--set',
          'serviceMonitor.enabled=true',
          '--set',
          'serviceMonitor.labels.release=prom',
        ]),
      );
      const sm = objs.find((o) => o.kind === 'ServiceMonitor');
      const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === `${FULLNAME}-metrics`);
      assert.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
      assert.equal(sm.metadata.labels.release, 'prom');
      for (const [key, v] of Object.entries(sm.spec.selector.matchLabels)) assert.equal(svc.metadata.labels[key], v);
      assert.deepEqual(
        sm.spec.endpoints.map((e: Obj) => [e.port, e.path]),
        [[svc.spec.ports[0].name, '/metrics']],
      );
      assert.equal(
        docs(await helmOk(['template', RELEASE, CHART])).filter((o) => o.kind === 'ServiceMonitor').length,
        0,
        'off by default',
      );
    },
  );

  test(
    'helm install: the CRD, the RBAC and the operator Deployment, ' +
      'whose pod runs on a kwok node as a non-root user',
    async () => {
      assert.equal((await k(['get', 'crd', '-o', 'name'])).trim(), '', 'no CRD before the install');
      const out = await helmOk([
        'install',
        RELEASE,
        CHART,
        '-n',
        NS,
        '--create-namespace',
        '-f',
        GPU_VALUES,
        '--wait',
        '--timeout',
        '120s',
      ]);
      assert.match(out, /STATUS: deployed/);
      assert.match(out, /cortex env configure/, 'NOTES.txt says what to do next');
      assert.match(
        out,
        /kubectl get --raw "\/apis\/custom\.metrics\.k8s\.io\/v1beta2\/namespaces\/<namespace>\/pods\/\*\/cortex_in_flight_requests"/,
        'and how to check the metrics API',
      );
      await k(['wait', '--for=condition=Established', '--timeout=30s', 'crd/realtimeapis.cortex.dev']);
      const d = await get('deployment', FULLNAME, NS);
      assert.equal(d.status.availableReplicas, 1);
      const pods = (
        await cluster.kubectl.json<{ items: Obj[] }>([
          'get',
          'pods',
          '-n',
          NS,
          '-l',
          'app.kubernetes.io/instance=cortex',
        ])
      ).items;
      assert.equal(pods.length, 1);
      assert.equal(pods[0].status.phase, 'Running');
      assert.match(pods[0].spec.nodeName, /^kwok-cpu-\d$/, "no toleration for the GPU nodes' taint: a CPU node");
      assert.equal(pods[0].spec.serviceAccountName, FULLNAME);
      assert.equal(pods[0].spec.securityContext.runAsNonRoot, true);
      const c = pods[0].spec.containers[0];
      assert.equal(c.image, 'cortex-ts/operator:0.1.0');
      assert.deepEqual(
        [c.livenessProbe.httpGet.path, c.readinessProbe.httpGet.path, c.ports[0].containerPort],
        ['/healthz', '/readyz', 8081],
      );
      assert.ok(
        c.args.includes('--leader-elect') && c.args.includes('--runtime-image=cortex-ts/runtime:0.1.0'),
        c.args.join(' '),
      );
      const svc = await get('service', `${FULLNAME}-metrics`, NS);
      assert.deepEqual(
        svc.spec.ports.map((p: Obj) => [p.name, p.port, p.targetPort]),
        [['http-metrics', 8081, 'health']],
      );
      const pools = parse((await get('configmap', `${FULLNAME}-node-pools`, NS)).data['node-pools.yaml']);
      assert.deepEqual(pools, parse(readFileSync(GPU_VALUES, 'utf8')).nodePools);
    },
  );

  test(
    "helm install registers the operator's metrics API: " +
      "both APIServices point at the Service, whose endpoint is the operator pod's metrics-api port",
    async () => {
      // Available stays False here (the operator pod on kwok runs nothing), so only where they point is checked
      for (const version of ['v1beta2', 'v1beta1']) {
        const s = await cluster.kubectl.json(['get', 'apiservice', `${version}.custom.metrics.k8s.io`]);
        assert.equal(s.metadata.labels['app.kubernetes.io/instance'], RELEASE);
        assert.deepEqual(s.spec.service, { namespace: NS, name: `${FULLNAME}-metrics-api`, port: 443 });
        assert.deepEqual(
          [s.spec.group, s.spec.version, s.spec.insecureSkipTLSVerify],
          ['custom.metrics.k8s.io', version, true],
        );
      }
      const pod = (
        await cluster.kubectl.json<{ items: Obj[] }>([
          'get',
          'pods',
          '-n',
          NS,
          '-l',
          'app.kubernetes.io/instance=cortex',
        ])
      ).items[0];
      const container = pod.spec.containers[0];
      assert.ok(
        container.args.includes('--metrics-api-port=6443') && !container.args.includes('--no-metrics-api'),
        container.args.join(' '),
      );
      const slices = await waitFor(
        "the metrics-api Service's EndpointSlice to list the operator pod",
        async () => {
          const list = await cluster.kubectl.json<{ items: Obj[] }>([
            'get',
            'endpointslices',
            '-n',
            NS,
            '-l',
            `kubernetes.io/service-name=${FULLNAME}-metrics-api`,
          ]);
          return (
            list.items.some((e) => e.endpoints?.some((ep: Obj) => ep.targetRef?.name === pod.metadata.name)) &&
            list.items
          );
        },
        30_000,
      );
      assert.deepEqual(
        slices.flatMap((e: Obj) => e.ports.map((p: Obj) => [p.name, p.port])),
        [['metrics-api', 6443]],
      );
    },
  );

  test(
    "the operator, from its image's entrypoint with the Deployment's args, " +
      "as the chart's ServiceAccount, runs a CPU and a GPU API",
    async () => {
      const container = (await get('deployment', FULLNAME, NS)).spec.template.spec.containers[0];
      const image = readDockerfile('operator/Dockerfile');
      const [, ...rest] = image.entrypoint; // node, its V8 flags, the script
      const script = repoPathOf(image, rest[rest.length - 1]);
      // the admin kubeconfig, every request impersonating the chart's ServiceAccount (RBAC applies)
      const saKubeconfig = kubeconfigAs(cluster, SA_USER, path.join(dir, 'sa.kubeconfig'));
      const port = await freePort();
      // --no-metrics-api: its metrics API would scrape the replicas' pod IPs, kwok's fake ones here,
      // which nothing may connect to (test/autoscaling covers that API)
      const args = [...container.args, '--kubeconfig', saKubeconfig, `--health-port=${port}`, '--no-metrics-api'];
      operator = execa(process.execPath, [...rest.slice(0, -1), script, ...args], {
        reject: false,
        all: true,
        buffer: false,
      });
      operator.all?.on('data', (chunk: Buffer) => logs.push(...chunk.toString().split('\n').filter(Boolean)));
      await waitFor('the operator to lead and sync', async () => logs.some((l) => l.includes('"running"')), 30_000);
      assert.ok(
        logs.some((l) => l.includes(`"configMap":"${NS}/${FULLNAME}-node-pools"`)),
        "reads the chart's node pools",
      );

      await k(['create', 'namespace', APPS]);
      const api = (name: string, compute: Obj) => ({
        apiVersion: 'cortex.dev/v1alpha1',
        kind: 'RealtimeAPI',
        metadata: { name, namespace: APPS },
        spec: { predictor: { type: 'python', path: 'predictor.py', image: 'fake.invalid/iris:1' }, compute },
      });
      await k(
        ['apply', '-f', '-'],
        [api('iris', { cpu: '200m', mem: '128Mi' }), api('gpu-api', { cpu: 1, gpu: 1, mem: '1Gi' })]
          .map((o) => stringify(o))
          .join('---\n'),
      );
      for (const name of ['iris', 'gpu-api']) {
        const live = await waitFor(
          `${name} to be live`,
          async () => {
            const a = await get('realtimeapi', name, APPS);
            return a.status?.status === 'live' && a.status.observedGeneration === a.metadata.generation && a;
          },
          60_000,
        );
        assert.equal(live.status.endpoint, `http://${name}.${APPS}.svc.cluster.local/`);
        for (const kind of ['deployment', 'service', 'hpa']) await get(kind, name, APPS);
      }
      const gpuPods = (
        await cluster.kubectl.json<{ items: Obj[] }>(['get', 'pods', '-n', APPS, '-l', 'cortex.dev/api=gpu-api'])
      ).items;
      assert.match(gpuPods[0].spec.nodeName, /^kwok-gpu-\d$/, "the GPU pool of the chart's values");
      assert.equal(
        (await get('deployment', 'iris', APPS)).spec.template.spec.containers[0].image,
        'fake.invalid/iris:1',
      );
      const lease = await get('lease', FULLNAME, NS);
      assert.ok(lease.spec.holderIdentity, 'leader election on the Lease in the release namespace');

      const can = async (...args: string[]) =>
        (await cluster.kubectl(['auth', 'can-i', ...args, `--as=${SA_USER}`]).catch((e: Error) => e.message)).trim();
      assert.match(await can('get', 'secrets', '-n', APPS), /no/);
      assert.match(
        await can('create', 'leases', '-n', APPS),
        /no/,
        'the Lease only in the release namespace (the Role)',
      );
      assert.equal(await can('create', 'leases', '-n', NS), 'yes');
      assert.match(
        await can('patch', 'realtimeapis', '-n', APPS),
        /no/,
        "the spec is the user's; only the status is the operator's",
      );
      assert.match(await can('delete', 'deployments', '-n', APPS), /no/);
      assert.deepEqual(
        logs.filter((l) => /forbidden|\b403\b/i.test(l)),
        [],
        'no request of the operator was refused',
      );
    },
  );

  test('a second install with bad values fails and creates nothing: no release, no object', async () => {
    const before = (
      await k([
        'get',
        'all,serviceaccounts,configmaps,roles,rolebindings,clusterroles,clusterrolebindings,crd',
        '-A',
        '-o',
        'name',
      ])
    )
      .split('\n')
      .sort();
    const r = await helm(['install', 'bad', CHART, '-n', 'cortex-system', '--set', 'replicaCount=0']);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /replicaCount: Must be greater than or equal to 1/);
    assert.equal((await helmOk(['list', '-A', '-q'])).trim(), RELEASE, 'no release "bad"');
    const after = (
      await k([
        'get',
        'all,serviceaccounts,configmaps,roles,rolebindings,clusterroles,clusterrolebindings,crd',
        '-A',
        '-o',
        'name',
      ])
    )
      .split('\n')
      .sort();
    assert.deepEqual(
      after.filter((o) => !before.includes(o) && !o.startsWith('pod/') && !o.startsWith('event')),
      [],
    );
  });

  test('helm uninstall removes everything the release created; the CRD stays (Helm never deletes crds/)', async () => {
    operator?.kill('SIGTERM');
    await operator;
    await k(['delete', 'realtimeapis', '--all', '-n', APPS, '--wait=true']);
    await helmOk(['uninstall', RELEASE, '-n', NS, '--wait', '--timeout', '60s']);
    await waitFor(
      "the release's objects to be gone",
      async () => {
        const left = await k([
          'get',
          'deployments,pods,services,serviceaccounts,configmaps,roles,rolebindings',
          '-n',
          NS,
          '-l',
          'app.kubernetes.io/instance=cortex',
          '-o',
          'name',
        ]);
        return left.trim() === '';
      },
      60_000,
    );
    assert.equal(
      (
        await k([
          'get',
          'clusterroles,clusterrolebindings,apiservices',
          '-l',
          'app.kubernetes.io/instance=cortex',
          '-o',
          'name',
        ])
      ).trim(),
      '',
    );
    assert.equal((await helmOk(['list', '-A', '-q'])).trim(), '');
    await k(['get', 'crd', 'realtimeapis.cortex.dev']);
  });
});
