// TrafficSplitters on a real control plane with the Gateway API's standard CRDs: the CRD's CEL
// rules refuse bad weights and two shadows; the operator (as its ServiceAccount, with exactly the
// declared RBAC) refuses a splitter whose APIs are missing or whose endpoint is taken, writes one
// HTTPRoute with weighted backends and a RequestMirror that the API server accepts, follows a
// weight change, and the route goes with its splitter.
// Not part of `npm test`: `node --test --test-concurrency=1 test/routes/splitter.cluster-test.ts`.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mergeRules } from '../../operator/rbac.ts';
import { cliUserRules } from '../../cli/cluster/rbac.ts';
import { kubeconfigAs } from '../helpers/identity.ts';
import { localEnv, type LocalEnv } from '../helpers/local.ts';
import { after, before, describe, test } from 'node:test';
import { applyCrds } from '../cluster/cluster.ts';
import { gatewayApiCrdsDir } from '../cluster/gateway-api.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { startTestCluster, type TestCluster } from '../helpers/test-cluster.ts';
import { waitFor } from '../helpers/wait.ts';

const NS = 'ml';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- kubectl's JSON, read field by field
type Obj = any;

const realtimeApi = (name: string): Obj => ({
  apiVersion: 'cortex.dev/v1alpha1',
  kind: 'RealtimeAPI',
  metadata: { name, namespace: NS },
  spec: { predictor: { type: 'python', path: 'predictor.py', image: 'fake.invalid/iris:1' } },
});

const splitter = (apis: { name: string; weight: number; shadow?: boolean }[], endpoint?: string): Obj => ({
  apiVersion: 'cortex.dev/v1alpha1',
  kind: 'TrafficSplitter',
  metadata: { name: 'sentiment', namespace: NS },
  spec: { ...(endpoint ? { networking: { endpoint } } : {}), apis },
});

describe('TrafficSplitters on a real control plane', { concurrency: false, timeout: 60 * 60_000 }, () => {
  let tc: TestCluster;
  let operator: OperatorProcess | undefined;
  const k = (args: string[], input?: string) => tc.cluster.kubectl(args, { input });
  const apply = (obj: Obj) => k(['apply', '--server-side', '--field-manager=test', '-f', '-'], JSON.stringify(obj));
  const get = (what: string, name: string): Promise<Obj> => tc.cluster.kubectl.json(['get', what, name, '-n', NS]);
  const status = async (): Promise<Obj> => (await get('trafficsplitter', 'sentiment')).status ?? {};

  before(async () => {
    tc = await startTestCluster('splitter', NS);
    await applyCrds(tc.cluster.kubectl, await gatewayApiCrdsDir());
    await k(['create', 'namespace', 'gateway-system']);
    await apply({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'public', namespace: 'gateway-system' },
      spec: {
        gatewayClassName: 'example',
        listeners: [{ name: 'http', protocol: 'HTTP', port: 80, allowedRoutes: { namespaces: { from: 'All' } } }],
      },
    });
    operator = await startOperator(tc.cluster, tc.dir, {
      nodePoolsFile: tc.poolsFile,
      extraArgs: [
        '--routes=gateway',
        '--gateway-name=public',
        '--gateway-namespace=gateway-system',
        '--route-hostname=api.example.com',
        '--resync=2s',
      ],
    });
  });

  let cli: LocalEnv | undefined;
  after(async () => {
    await cli?.cleanup();
    await operator?.stop();
    await tc?.cluster.stop();
    if (tc) rmSync(tc.dir, { recursive: true, force: true });
  });

  test("the CRD's CEL rules refuse weights that do not sum to 100 and two shadows", async () => {
    await assert.rejects(
      apply(
        splitter([
          { name: 'iris', weight: 90 },
          { name: 'iris-v2', weight: 5 },
        ]),
      ),
      /the weights of the APIs that are not the shadow must sum to 100/,
    );
    await assert.rejects(
      apply(
        splitter([
          { name: 'iris', weight: 100 },
          { name: 'a', weight: 0, shadow: true },
          { name: 'b', weight: 0, shadow: true },
        ]),
      ),
      /at most one API can be the shadow/,
    );
  });

  test('a splitter naming a missing API is an error with the fix, and gets no route', async () => {
    await apply(realtimeApi('iris'));
    await apply(
      splitter([
        { name: 'iris', weight: 90 },
        { name: 'iris-v2', weight: 10 },
      ]),
    );
    const s = await waitFor('the missing API in the status', async () => {
      const st = await status();
      return st.status === 'error' && /iris-v2/.test(st.message ?? '') ? st : undefined;
    });
    assert.match(s.message, /no RealtimeAPI iris-v2 in namespace ml: deploy it first/);
    assert.equal(s.weights, 'iris:90 iris-v2:10');
    await assert.rejects(get('httproute', 'sentiment'), /NotFound/);
  });

  test('one HTTPRoute: weighted backends, the shadow mirrored, each API named for the activator', async () => {
    await apply(realtimeApi('iris-v2'));
    await apply(realtimeApi('iris-v3'));
    await apply(
      splitter([
        { name: 'iris', weight: 90 },
        { name: 'iris-v2', weight: 10 },
        { name: 'iris-v3', weight: 0, shadow: true },
      ]),
    );
    const route = await waitFor('the splitter HTTPRoute', () => get('httproute', 'sentiment'));
    const [rule] = route.spec.rules;
    assert.deepEqual(rule.matches, [{ path: { type: 'PathPrefix', value: '/sentiment' } }]);
    assert.deepEqual(
      rule.backendRefs.map((b: Obj) => [b.name, b.weight, b.filters[0].requestHeaderModifier.set[0].value]),
      [
        ['iris', 90, 'ml/iris'],
        ['iris-v2', 10, 'ml/iris-v2'],
      ],
    );
    const mirror = rule.filters.find((f: Obj) => f.type === 'RequestMirror');
    assert.equal(mirror.requestMirror.backendRef.name, 'iris-v3');
    assert.equal(route.metadata.ownerReferences[0].kind, 'TrafficSplitter');
    const st = await waitFor('the status', async () => ((await status()).url ? status() : undefined));
    assert.equal(st.url, 'http://api.example.com/sentiment');
    assert.equal(st.status, 'updating', 'no Gateway controller accepted it yet');
  });

  test('a canary weight change is just another apply', async () => {
    await apply(
      splitter([
        { name: 'iris', weight: 50 },
        { name: 'iris-v2', weight: 50 },
      ]),
    );
    await waitFor('the new weights', async () => {
      const r = await get('httproute', 'sentiment');
      const weights = r.spec.rules[0].backendRefs.map((b: Obj) => b.weight);
      return (
        JSON.stringify(weights) === '[50,50]' && !r.spec.rules[0].filters.some((f: Obj) => f.type === 'RequestMirror')
      );
    });
  });

  test("an endpoint an API serves is refused; the splitter's route goes with it", async () => {
    await apply(splitter([{ name: 'iris', weight: 100 }], '/iris'));
    await waitFor('the taken endpoint in the status', async () =>
      /already served by RealtimeAPI ml\/iris/.test((await status()).message ?? ''),
    );
    await k(['delete', 'trafficsplitter', 'sentiment', '-n', NS]);
    await waitFor('the route to go', async () => {
      try {
        await get('httproute', 'sentiment');
        return false;
      } catch (error) {
        return /NotFound/.test(String(error));
      }
    });
  });

  test('cortex deploy: a splitter naming a missing API changes nothing; new weights are a new deploy', async () => {
    cli = await localEnv();
    // the CLI runs as a person bound to exactly the rules it declares (the chart's <release>-user role)
    await apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'cortex-user' },
      rules: mergeRules(cliUserRules),
    });
    await k(['create', 'rolebinding', 'bob-cortex', '-n', NS, '--clusterrole=cortex-user', '--user=bob']);
    const kubeconfig = kubeconfigAs(tc.cluster, 'bob', path.join(tc.dir, 'bob.kubeconfig'));
    const project = path.join(tc.dir, 'project');
    mkdirSync(project);
    writeFileSync(
      path.join(project, 'predictor.py'),
      'class PythonPredictor:\n    def predict(self, payload):\n        return 1\n',
    );
    const yaml = (weights: string) =>
      '- name: canary\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n' +
      '    image: fake.invalid/iris:2\n' +
      `- name: rollout\n  kind: TrafficSplitter\n  apis:\n${weights}`;
    const deploy = async () =>
      cli!.cortex(['deploy', project, '-e', 'test', '--no-bundle', '--no-wait'], { cwd: tc.dir });
    const configure = await cli.cortex(['env', 'configure', 'test', '--kubeconfig', kubeconfig, '--namespace', NS], {
      cwd: tc.dir,
    });
    assert.equal(configure.code, 0, configure.stderr);

    writeFileSync(
      path.join(project, 'cortex.yaml'),
      yaml('    - name: canary\n      weight: 10\n    - name: nowhere\n      weight: 90\n'),
    );
    const refused = await deploy();
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(
      refused.stderr,
      /cortex\.yaml:7: TrafficSplitter rollout: apis\.1\.name: no RealtimeAPI nowhere in this file or in namespace ml of test; add it to the file, deploy it first/,
    );
    assert.match(refused.stderr, /nothing was deployed/);
    await assert.rejects(get('realtimeapi', 'canary'), /NotFound/, 'nothing half-applied');

    // an endpoint another API of the namespace serves (iris has /iris)
    writeFileSync(
      path.join(project, 'cortex.yaml'),
      yaml('    - name: iris\n      weight: 100\n') + '  networking:\n    endpoint: /iris\n',
    );
    const taken = await deploy();
    assert.equal(taken.code, 2, taken.stderr);
    assert.match(
      taken.stderr,
      /cortex\.yaml:7: TrafficSplitter rollout: networking\.endpoint: \/iris is already served by RealtimeAPI iris in namespace ml/,
    );
    await assert.rejects(get('realtimeapi', 'canary'), /NotFound/, 'nothing half-applied');

    writeFileSync(
      path.join(project, 'cortex.yaml'),
      yaml('    - name: iris\n      weight: 90\n    - name: canary\n      weight: 10\n'),
    );
    const ok = await deploy();
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /applying TrafficSplitter rollout \(iris 90%, canary 10%\)/);
    await waitFor('the canary route', async () => {
      const r = await get('httproute', 'rollout');
      return (
        JSON.stringify(r.spec.rules[0].backendRefs.map((b: Obj) => [b.name, b.weight])) ===
        '[["iris",90],["canary",10]]'
      );
    });
    writeFileSync(
      path.join(project, 'cortex.yaml'),
      yaml('    - name: iris\n      weight: 50\n    - name: canary\n      weight: 50\n'),
    );
    assert.equal((await deploy()).code, 0);
    await waitFor('the new weights', async () => {
      const r = await get('httproute', 'rollout');
      return JSON.stringify(r.spec.rules[0].backendRefs.map((b: Obj) => b.weight)) === '[50,50]';
    });
    const deleted = await cli.cortex(['delete', 'rollout', '-y', '-e', 'test'], { cwd: tc.dir });
    assert.equal(deleted.code, 0, deleted.stderr);
    await assert.rejects(get('trafficsplitter', 'rollout'), /NotFound/);
    await get('realtimeapi', 'canary'); // the APIs stay
  });
});
