import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyDefaults } from '../api/v1alpha1/index.ts';
import type { ApiInstance } from '../reconcilers/types.ts';
import { desiredGrpcRoute, desiredHttpRoute, desiredIngress, type RouteConfig } from './desired.ts';
import { routeConfigFromFlags, type RouteFlags } from './flags.ts';
import { gatewayUrl, routeAcceptance } from './url.ts';
import { desiredSplitterRoute } from './splitter-route.ts';

const api = (endpoint?: string): ApiInstance => ({
  name: 'iris',
  namespace: 'ml',
  uid: 'u1',
  generation: 1,
  spec: applyDefaults('iris', {
    predictor: { type: 'python', path: 'p.py', image: 'x/y:1' },
    ...(endpoint ? { networking: { endpoint } } : {}),
  }),
});
type IngressConfig = Extract<RouteConfig, { kind: 'ingress' }>;
const ingress = (more: Partial<IngressConfig> = {}): IngressConfig => ({
  kind: 'ingress',
  hostnames: [],
  nginx: true,
  annotations: {},
  ...more,
});
const gw: Extract<RouteConfig, { kind: 'gateway' }> = {
  kind: 'gateway',
  gateway: { name: 'public', namespace: 'gw' },
  hostnames: [],
};

test('ingress-nginx: the endpoint is a regex with its metacharacters escaped; / matches everything', () => {
  const paths = (e?: string) =>
    (
      desiredIngress(api(e), ingress(), 'cluster.local').spec as never as {
        rules: { http: { paths: { path: string }[] } }[];
      }
    ).rules[0].http.paths[0].path;
  assert.equal(paths(), '/iris(/|$)(.*)');
  assert.equal(paths('/v1.2/iris+'), '/v1\\.2/iris\\+(/|$)(.*)');
  assert.equal(paths('/'), '/()(.*)');
});

test('another controller: a plain Prefix path, only the admin annotations, TLS only with hostnames', () => {
  const i = desiredIngress(
    api(),
    ingress({ nginx: false, annotations: { a: 'b' }, tlsSecretName: 's' }),
    'cluster.local',
  );
  assert.deepEqual(i.metadata?.annotations, { a: 'b' });
  const spec = i.spec as {
    tls?: unknown;
    rules: { host?: string; http: { paths: { path: string; pathType: string }[] } }[];
  };
  assert.equal(spec.tls, undefined, 'a certificate is for named hosts');
  assert.deepEqual(spec.rules[0].http.paths[0].path, '/iris');
  assert.equal(spec.rules[0].http.paths[0].pathType, 'Prefix');
});

test('the HTTPRoute has no hostnames or sectionName unless configured', () => {
  const r = desiredHttpRoute(api(), gw).spec as { parentRefs: object[]; hostnames?: string[] };
  assert.deepEqual(r.parentRefs, [
    { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public', namespace: 'gw' },
  ]);
  assert.equal(r.hostnames, undefined);
});

test('the URL: hostnames, the listener hostname, then the published address; ports only when not default', () => {
  const gateway = (listener: object, addresses: object[] = []) => ({
    spec: { listeners: [listener] },
    status: { addresses },
  });
  assert.equal(
    gatewayUrl(gateway({ protocol: 'HTTP', port: 8080 }, [{ value: '203.0.113.5' }]), gw, '/iris'),
    'http://203.0.113.5:8080/iris',
  );
  assert.equal(
    gatewayUrl(
      gateway({ protocol: 'HTTPS', port: 443, hostname: '*.example.com' }, [{ value: '2001:db8::1' }]),
      gw,
      '/iris',
    ),
    'https://[2001:db8::1]/iris',
  );
  assert.equal(
    gatewayUrl(gateway({ protocol: 'HTTPS', port: 443, hostname: 'a.example.com' }), gw, '/iris'),
    'https://a.example.com/iris',
  );
  assert.equal(gatewayUrl(gateway({ protocol: 'HTTP', port: 80 }), gw, '/iris'), undefined, 'no address yet');
});

test('a route the Gateway refuses says why and what to change', () => {
  const route = {
    metadata: { namespace: 'ml' },
    status: {
      parents: [
        {
          parentRef: { name: 'public', namespace: 'gw' },
          conditions: [
            { type: 'Accepted', status: 'False', reason: 'NotAllowedByListeners', message: 'no listener admits it' },
          ],
        },
      ],
    },
  };
  const r = routeAcceptance(route, gw.gateway, 'HTTPRoute ml/iris');
  assert.equal(r.status, 'False');
  assert.equal(r.reason, 'NotAllowedByListeners');
  assert.match(r.message, /no listener admits it: let the listener's allowedRoutes\.namespaces admit namespace ml/);
});

test('flags that do not fit together are refused with the chart value to set', () => {
  const flags = (more: Partial<RouteFlags>): RouteFlags => ({
    routes: 'none',
    routeHostname: [],
    ingressNginx: true,
    ingressAnnotation: [],
    ...more,
  });
  assert.equal(routeConfigFromFlags(flags({})), undefined);
  assert.throws(
    () => routeConfigFromFlags(flags({ routes: 'gateway', gatewayName: 'g' })),
    /routes\.gateway\.name and \.namespace/,
  );
  assert.throws(
    () => routeConfigFromFlags(flags({ routes: 'ingress', ingressAnnotation: ['novalue'] })),
    /not key=value/,
  );
  assert.throws(
    () => routeConfigFromFlags(flags({ routes: 'ingress', ingressTlsSecret: 's' })),
    /needs --route-hostname/,
  );
  assert.deepEqual(routeConfigFromFlags(flags({ routes: 'ingress', ingressAnnotation: ['a/b=c=d'] })), {
    kind: 'ingress',
    className: undefined,
    hostnames: [],
    tlsSecretName: undefined,
    nginx: true,
    annotations: { 'a/b': 'c=d' },
  });
});

test("a splitter's HTTPRoute: the endpoint's prefix, weighted backends, the shadow mirrored and never weighted", () => {
  const route = desiredSplitterRoute(
    {
      name: 'iris-split',
      namespace: 'ml',
      uid: 'u2',
      spec: {
        networking: { endpoint: '/iris' },
        apis: [
          { name: 'iris', weight: 90, shadow: false },
          { name: 'iris-v2', weight: 10, shadow: false },
          { name: 'iris-v3', weight: 0, shadow: true },
        ],
      },
    },
    { ...gw, hostnames: ['api.example.com'] },
  );
  const spec = route.spec as {
    parentRefs: { name: string }[];
    hostnames: string[];
    rules: { matches: object[]; filters: { type: string }[]; backendRefs: { name: string; weight: number }[] }[];
  };
  assert.deepEqual([spec.parentRefs[0].name, spec.hostnames], ['public', ['api.example.com']]);
  const [rule] = spec.rules;
  assert.deepEqual(rule.matches, [{ path: { type: 'PathPrefix', value: '/iris' } }]);
  assert.deepEqual(
    rule.filters.map((f) => f.type),
    ['URLRewrite', 'RequestHeaderModifier', 'RequestMirror'],
  );
  assert.deepEqual(
    rule.backendRefs.map((b) => [b.name, b.weight]),
    [
      ['iris', 90],
      ['iris-v2', 10],
    ],
  );
});

test('a gRPC API: a GRPCRoute matching its service (the endpoint /<package>.<Service>) to its Service', () => {
  const grpcApi = (endpoint: string): ApiInstance => ({
    ...api(endpoint),
    spec: applyDefaults('iris', {
      predictor: { type: 'python', path: 'p.py', image: 'x/y:1', protobufPath: 'iris.proto' },
      networking: { endpoint },
    }),
  });
  const route = desiredGrpcRoute(grpcApi('/iris_classifier.Handler'), { ...gw, hostnames: ['api.example.com'] });
  assert.equal(route.kind, 'GRPCRoute');
  assert.deepEqual(route.spec, {
    parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public', namespace: 'gw' }],
    hostnames: ['api.example.com'],
    rules: [
      {
        matches: [{ method: { type: 'Exact', service: 'iris_classifier.Handler' } }],
        backendRefs: [{ group: '', kind: 'Service', name: 'iris', port: 80 }],
      },
    ],
  });
  // an endpoint that names no service: every call of the hostnames goes to the API
  const any = desiredGrpcRoute(grpcApi('/iris'), gw).spec as { rules: object[] };
  assert.deepEqual(any.rules, [{ backendRefs: [{ group: '', kind: 'Service', name: 'iris', port: 80 }] }]);
});
