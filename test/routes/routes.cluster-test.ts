// Routes on a real control plane (test/cluster), with the operator running as its ServiceAccount
// bound to exactly the declared RBAC: first without the Gateway API (reported in the status),
// then with its standard CRDs from the sigs.k8s.io/gateway-api module, where the API server
// validates (CEL included) every HTTPRoute the operator writes; a missing Gateway, a Gateway
// whose controller accepted the route, an endpoint two APIs ask for, routes that follow deletes
// and renames through owner references; then the same APIs as Ingresses.
// Not part of `npm test`: `node --test --test-concurrency=1 test/routes/routes.cluster-test.ts`.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { repoRoot } from '../helpers/serve.ts';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { applyCrds } from '../cluster/cluster.ts';
import { gatewayApiCrdsDir } from '../cluster/gateway-api.ts';
import { spawnOperator, startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { startTestCluster, type TestCluster } from '../helpers/test-cluster.ts';
import { waitFor } from '../helpers/wait.ts';

const NS = 'ml';
const BUILD_TIMEOUT_MS = 60 * 60_000;
const GATEWAY_ARGS = [
  '--routes=gateway',
  '--gateway-name=public',
  '--gateway-namespace=gateway-system',
  '--gateway-section-name=https',
  '--route-hostname=api.example.com',
  // routes not serving yet are looked at again after 30 s; the resync makes the test quicker
  '--resync=2s',
];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- kubectl's JSON, read field by field
type Obj = any;

function realtimeApi(name: string, networking?: { endpoint: string }): Obj {
  return {
    apiVersion: 'cortex.dev/v1alpha1',
    kind: 'RealtimeAPI',
    metadata: { name, namespace: NS },
    spec: {
      predictor: { type: 'python', path: 'predictor.py', image: 'fake.invalid/iris:1' },
      ...(networking ? { networking } : {}),
    },
  };
}

describe('routes on a real control plane', { concurrency: false, timeout: BUILD_TIMEOUT_MS }, () => {
  let tc: TestCluster;
  let operator: OperatorProcess | undefined;
  const k = (args: string[], input?: string) => tc.cluster.kubectl(args, { input });
  const apply = (obj: Obj) => k(['apply', '--server-side', '--field-manager=test', '-f', '-'], JSON.stringify(obj));
  const get = (what: string, name: string, ns = NS): Promise<Obj> =>
    tc.cluster.kubectl.json(['get', what, name, '-n', ns]);
  const routed = async (name: string): Promise<Obj> => {
    const api = await get('realtimeapi', name);
    return { ...(api.status?.conditions ?? []).find((c: Obj) => c.type === 'Routed'), url: api.status?.url };
  };
  const waitRouted = (name: string, reason: string) =>
    waitFor(`${name}'s Routed condition to say ${reason}`, async () => {
      const r = await routed(name);
      return r.reason === reason ? r : undefined;
    });
  const gone = (what: string, name: string) =>
    waitFor(`${what} ${name} to be deleted`, async () => {
      try {
        await get(what, name);
        return false;
      } catch (error) {
        return /NotFound/.test(String(error));
      }
    });

  before(async () => {
    // only the RealtimeAPI CRD, as in a cluster upgraded with helm upgrade (Helm installs crds/ only
    // on install): the operator must serve RealtimeAPIs without the TrafficSplitter CRD
    const crds = mkdtempSync(path.join(tmpdir(), 'routes-crds-'));
    copyFileSync(
      path.join(repoRoot, 'crds', 'cortex.dev_realtimeapis.yaml'),
      path.join(crds, 'cortex.dev_realtimeapis.yaml'),
    );
    tc = await startTestCluster('routes', NS, { crdsDir: crds });
    operator = await startOperator(tc.cluster, tc.dir, { nodePoolsFile: tc.poolsFile, extraArgs: GATEWAY_ARGS });
  });

  after(async () => {
    await operator?.stop();
    await tc?.cluster.stop();
    if (tc) rmSync(tc.dir, { recursive: true, force: true });
  });

  test('without the Gateway API, the status says so and how to fix it; nothing else breaks', async () => {
    await apply(realtimeApi('iris'));
    const r = await waitRouted('iris', 'GatewayAPIMissing');
    assert.equal(r.status, 'False');
    assert.match(r.message, /install its CRDs .*standard-install\.yaml.*or set routes\.kind: ingress/);
    // once the API itself is live (its own message gone), the route's problem is its message
    await waitFor('the route problem as the message of the live API', async () => {
      const api = await get('realtimeapi', 'iris');
      return api.status?.status === 'live' && api.status.message === r.message;
    });
    await get('deployment', 'iris'); // the API itself is still deployed
  });

  test('with the CRDs, the API server accepts the HTTPRoute; the missing Gateway is reported', async () => {
    const names = await applyCrds(tc.cluster.kubectl, await gatewayApiCrdsDir());
    assert.ok(names.includes('customresourcedefinition.apiextensions.k8s.io/httproutes.gateway.networking.k8s.io'));
    const r = await waitRouted('iris', 'GatewayNotFound');
    assert.match(r.message, /Gateway gateway-system\/public, which does not exist: create it/);
    const route = await get('httproute', 'iris');
    const api = await get('realtimeapi', 'iris');
    assert.deepEqual(
      route.metadata.ownerReferences.map((o: Obj) => [o.kind, o.name, o.uid, o.controller]),
      [['RealtimeAPI', 'iris', api.metadata.uid, true]],
    );
    assert.deepEqual(route.spec.parentRefs, [
      {
        group: 'gateway.networking.k8s.io',
        kind: 'Gateway',
        name: 'public',
        namespace: 'gateway-system',
        sectionName: 'https',
      },
    ]);
    assert.deepEqual(route.spec.hostnames, ['api.example.com']);
    const [rule] = route.spec.rules;
    assert.deepEqual(rule.matches, [{ path: { type: 'PathPrefix', value: '/iris' } }]);
    assert.deepEqual(rule.filters[0], {
      type: 'URLRewrite',
      urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } },
    });
    assert.deepEqual(rule.filters[1].requestHeaderModifier.set, [{ name: 'x-cortex-api', value: 'ml/iris' }]);
    assert.equal(rule.backendRefs[0].name, 'iris');
    assert.equal(rule.backendRefs[0].port, 80);
  });

  test("a Gateway gives the URL; its controller's acceptance makes the route Routed", async () => {
    await k(['create', 'namespace', 'gateway-system']);
    await apply({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: 'example' },
      spec: { controllerName: 'example.com/gateway-controller' },
    });
    await apply({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'public', namespace: 'gateway-system' },
      spec: {
        gatewayClassName: 'example',
        listeners: [
          { name: 'http', protocol: 'HTTP', port: 80, allowedRoutes: { namespaces: { from: 'All' } } },
          {
            name: 'https',
            protocol: 'HTTPS',
            port: 443,
            tls: { mode: 'Terminate', certificateRefs: [{ kind: 'Secret', name: 'api-example-com-tls' }] },
            allowedRoutes: { namespaces: { from: 'All' } },
          },
        ],
      },
    });
    const pending = await waitRouted('iris', 'RoutePending');
    assert.equal(pending.status, 'Unknown');
    assert.equal(pending.url, 'https://api.example.com/iris');
    // what a Gateway controller writes once it serves the route
    await k([
      'patch',
      'httproute',
      'iris',
      '-n',
      NS,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({
        status: {
          parents: [
            {
              parentRef: {
                group: 'gateway.networking.k8s.io',
                kind: 'Gateway',
                name: 'public',
                namespace: 'gateway-system',
                sectionName: 'https',
              },
              controllerName: 'example.com/gateway-controller',
              conditions: [
                {
                  type: 'Accepted',
                  status: 'True',
                  reason: 'Accepted',
                  message: '',
                  lastTransitionTime: '2026-01-01T00:00:00Z',
                  observedGeneration: 1,
                },
                {
                  type: 'ResolvedRefs',
                  status: 'True',
                  reason: 'ResolvedRefs',
                  message: '',
                  lastTransitionTime: '2026-01-01T00:00:00Z',
                  observedGeneration: 1,
                },
              ],
            },
          ],
        },
      }),
    ]);
    const accepted = await waitRouted('iris', 'Accepted');
    assert.equal(accepted.status, 'True');
    assert.equal(accepted.url, 'https://api.example.com/iris');
  });

  test('an endpoint another API serves is refused in the status, and no route is written for it', async () => {
    await apply(realtimeApi('iris-copy', { endpoint: '/iris' }));
    const r = await waitRouted('iris-copy', 'EndpointTaken');
    assert.equal(r.status, 'False');
    assert.match(
      r.message,
      /networking\.endpoint \/iris is already served by RealtimeAPI ml\/iris: give this API another/,
    );
    await assert.rejects(get('httproute', 'iris-copy'), /NotFound/);
    assert.equal((await routed('iris')).reason, 'Accepted', 'the holder keeps its route');
  });

  test('routes follow deletes and renames: the old route goes with its API, the endpoint passes on', async () => {
    // a rename is a new API and the old one deleted
    await apply(realtimeApi('iris-v2'));
    await waitFor('the HTTPRoute of iris-v2', () => get('httproute', 'iris-v2'));
    await k(['delete', 'realtimeapi', 'iris', '-n', NS]);
    await gone('httproute', 'iris');
    // the endpoint /iris is free: the API that asked for it second gets it
    await waitRouted('iris-copy', 'RoutePending');
    const route = await get('httproute', 'iris-copy');
    assert.deepEqual(route.spec.rules[0].matches, [{ path: { type: 'PathPrefix', value: '/iris' } }]);
    // an endpoint change rewrites the same route
    await apply(realtimeApi('iris-v2', { endpoint: '/models/iris' }));
    await waitFor('the HTTPRoute to follow the endpoint', async () => {
      const r = await get('httproute', 'iris-v2');
      return r.spec.rules[0].matches[0].path.value === '/models/iris';
    });
    assert.equal((await routed('iris-v2')).url, 'https://api.example.com/models/iris');
  });

  test('a gRPC API gets a GRPCRoute the API server accepts; switching to and from gRPC swaps the route', async () => {
    const grpcApi = (protobufPath?: string): Obj => {
      const api = realtimeApi('primes', { endpoint: '/primes.Generator' });
      if (protobufPath) api.spec.predictor.protobufPath = protobufPath;
      return api;
    };
    await apply(grpcApi('primes.proto'));
    const route = await waitFor('the GRPCRoute of primes', () => get('grpcroute', 'primes').catch(() => undefined));
    assert.deepEqual(route.spec.rules[0].matches, [{ method: { type: 'Exact', service: 'primes.Generator' } }]);
    assert.equal(route.spec.rules[0].backendRefs[0].name, 'primes');
    await assert.rejects(get('httproute', 'primes'), /NotFound/);
    // no protobufPath any more: an HTTP API, whose HTTPRoute replaces the GRPCRoute
    await apply(grpcApi());
    await waitFor('the HTTPRoute of primes', () => get('httproute', 'primes').catch(() => undefined));
    await gone('grpcroute', 'primes');
    // and back
    await apply(grpcApi('primes.proto'));
    await waitFor('the GRPCRoute of primes again', () => get('grpcroute', 'primes').catch(() => undefined));
    await gone('httproute', 'primes');
    await k(['delete', 'realtimeapi', 'primes', '-n', NS]);
    await gone('grpcroute', 'primes');
  });

  test('routes.kind ingress: an Ingress per API (TLS, class, rewrite), its URL; the old HTTPRoute goes', async () => {
    await operator?.stop();
    // the same identity (startOperator made it), other route flags
    operator = await spawnOperator(path.join(tc.dir, 'operator.kubeconfig'), [
      '--no-leader-elect',
      '--routes=ingress',
      '--ingress-class=nginx',
      '--route-hostname=models.example.com',
      '--ingress-tls-secret=models-example-com-tls',
      '--ingress-annotation=cert-manager.io/cluster-issuer=letsencrypt',
      '--resync=2s',
    ]);
    const ingress = await waitFor('the Ingress of iris-v2', () => get('ingress', 'iris-v2'));
    await gone('httproute', 'iris-v2'); // the route of the kind the admin left goes
    assert.equal(ingress.spec.ingressClassName, 'nginx');
    assert.deepEqual(ingress.spec.tls, [{ hosts: ['models.example.com'], secretName: 'models-example-com-tls' }]);
    assert.deepEqual(ingress.spec.rules[0].http.paths[0].path, '/models/iris(/|$)(.*)');
    assert.equal(ingress.metadata.annotations['nginx.ingress.kubernetes.io/rewrite-target'], '/$2');
    assert.equal(
      ingress.metadata.annotations['nginx.ingress.kubernetes.io/upstream-vhost'],
      'iris-v2.ml.svc.cluster.local',
    );
    assert.equal(ingress.metadata.annotations['cert-manager.io/cluster-issuer'], 'letsencrypt');
    const pending = await waitRouted('iris-v2', 'AddressPending');
    assert.equal(pending.url, 'https://models.example.com/models/iris');
    await k([
      'patch',
      'ingress',
      'iris-v2',
      '-n',
      NS,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: '192.0.2.7' }] } } }),
    ]);
    assert.equal((await waitRouted('iris-v2', 'Routed')).status, 'True');
    await k(['delete', 'realtimeapi', 'iris-v2', '-n', NS]);
    await gone('ingress', 'iris-v2');
  });
});
