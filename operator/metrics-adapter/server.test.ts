// The metrics API over real TLS on loopback: front-proxy client certificates made here (a CA,
// the proxy's certificate, a stranger's), requests as the kube-apiserver's aggregator sends them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import selfsigned from 'selfsigned';
import { silentLogger } from '../util/log.ts';
import { MetricsApi } from './api.ts';
import type { RequestHeaderConfig, UserInfo } from './authn.ts';
import type { ResourceAttributes } from './authz.ts';
import { SampleStore } from './samples.ts';
import type { PodObject } from './scraper.ts';
import { createMetricsServer, selfSignedCert, type ServingCert } from './server.ts';

interface Pem {
  cert: string;
  key: string;
}

/** An item of a MetricValueList, as much of it as the tests read. */
interface MetricValue {
  describedObject: { name: string };
  metricName?: string;
  value: string;
}

async function makeCa(cn: string): Promise<Pem> {
  const p = await selfsigned.generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: p.cert, key: p.private };
}

async function clientCert(cn: string, ca: Pem): Promise<Pem> {
  const p = await selfsigned.generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ca: { cert: ca.cert, key: ca.key },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });
  return { cert: p.cert, key: p.private };
}

const NOW = Date.parse('2030-01-01T00:01:00Z');
const pod = (name: string, api: string, ns = 'ml'): PodObject => ({
  metadata: { name, namespace: ns, labels: { 'cortex.dev/api': api, 'pod-template-hash': 'x' } },
});

describe('metrics API server (TLS, front-proxy authentication, routes)', () => {
  let serving: ServingCert;
  let ca: Pem;
  let proxy: Pem;
  let otherCn: Pem;
  let stranger: Pem;
  let port: number;
  let server: ReturnType<typeof createMetricsServer>;
  const asked: { user: UserInfo; attributes: ResourceAttributes }[] = [];
  const config: RequestHeaderConfig = {
    clientCA: '',
    allowedNames: ['front-proxy-client'],
    usernameHeaders: ['X-Remote-User'],
    uidHeaders: [],
    groupHeaders: ['X-Remote-Group'],
    extraHeaderPrefixes: ['X-Remote-Extra-'],
  };

  before(async () => {
    [serving, ca] = await Promise.all([selfSignedCert(), makeCa('front-proxy-ca')]);
    [proxy, otherCn] = await Promise.all([clientCert('front-proxy-client', ca), clientCert('someone-else', ca)]);
    stranger = await clientCert('front-proxy-client', await makeCa('another-ca'));
    config.clientCA = ca.cert;
    const store = new SampleStore();
    // iris-a: 10 s at 4, then 10 s at 1 (window 10 s → 1); iris-b: 1.5 all along; other-api: 9
    for (let s = 0; s < 20; s++) {
      const at = NOW - 19_500 + s * 1000;
      store.record('ml', 'iris-a', 'iris', { at, inFlight: s < 10 ? 4 : 1, requestsTotal: s }, 60_000);
      store.record('ml', 'iris-b', 'iris', { at, inFlight: 1.5, requestsTotal: 0 }, 60_000);
      store.record('ml', 'other-a', 'other', { at, inFlight: 9, requestsTotal: 0 }, 60_000);
    }
    const pods = [
      pod('iris-a', 'iris'),
      pod('iris-b', 'iris'),
      pod('iris-new', 'iris'),
      pod('other-a', 'other'),
      pod('iris-a', 'iris', 'elsewhere'),
    ];
    const api = new MetricsApi({
      pods: () => pods,
      store,
      windowMs: (_ns, name) => (name === 'iris' ? 10_000 : 60_000),
      now: () => NOW,
    });
    server = createMetricsServer({
      cert: serving,
      api,
      log: silentLogger,
      requestHeader: () => config,
      authorize: async (user, attributes) => {
        asked.push({ user, attributes });
        return user.name === 'mallory' ? { allowed: false, reason: 'RBAC: no rule' } : { allowed: true };
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );

  function get(
    path: string,
    options: { client?: Pem; headers?: Record<string, string | string[]>; method?: string } = {},
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the adapter's JSON answers, read field by field
  ): Promise<{ status: number; body: any }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: options.method ?? 'GET',
          ca: serving.cert,
          agent: false,
          ...(options.client ? { cert: options.client.cert, key: options.client.key } : {}),
          headers: {
            'X-Remote-User': 'system:serviceaccount:kube-system:horizontal-pod-autoscaler',
            'X-Remote-Group': ['system:serviceaccounts', 'system:authenticated'],
            ...options.headers,
          },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: res.headers['content-type'] === 'application/json' ? JSON.parse(text) : text,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
  }
  const podsPath = (v: string, selector = 'cortex.dev/api=iris', ns = 'ml') =>
    `/apis/custom.metrics.k8s.io/${v}/namespaces/${ns}/pods/%2A/cortex_in_flight_requests` +
    `?labelSelector=${encodeURIComponent(selector)}`;

  test('discovery lists pods/cortex_in_flight_requests in both versions; the group prefers v1beta2', async () => {
    for (const v of ['v1beta2', 'v1beta1']) {
      const r = await get(`/apis/custom.metrics.k8s.io/${v}`, { client: proxy });
      assert.equal(r.status, 200);
      assert.equal(r.body.kind, 'APIResourceList');
      assert.equal(r.body.groupVersion, `custom.metrics.k8s.io/${v}`);
      assert.deepEqual(
        r.body.resources.map((x: { name: string; namespaced: boolean; verbs: string[] }) => [
          x.name,
          x.namespaced,
          x.verbs,
        ]),
        [['pods/cortex_in_flight_requests', true, ['get']]],
      );
    }
    const group = await get('/apis/custom.metrics.k8s.io', { client: proxy });
    assert.equal(group.body.preferredVersion.version, 'v1beta2');
  });

  test(
    'without a client certificate, with one of another CA, or with a common name not allowed: ' +
      '401, headers ignored',
    async () => {
      const none = await get(podsPath('v1beta2'));
      assert.equal(none.status, 401);
      assert.match(none.body.message, /no client certificate/);
      const foreign = await get(podsPath('v1beta2'), { client: stranger });
      assert.equal(foreign.status, 401);
      assert.match(foreign.body.message, /not signed by the requestheader CA/);
      const cn = await get(podsPath('v1beta2'), { client: otherCn });
      assert.equal(cn.status, 401);
      assert.match(
        cn.body.message,
        /common name "someone-else" is not one of requestheader-allowed-names \(front-proxy-client\)/,
      );
      assert.equal(asked.length, 0, 'nothing unauthenticated reached the authorizer');
      const health = await get('/healthz');
      assert.equal(health.status, 200, '/healthz needs no identity');
    },
  );

  test(
    "pods/* with a label selector: each pod's mean over its API's window, in milli-units; " +
      'pods without samples or other APIs left out',
    async () => {
      const r = await get(podsPath('v1beta2'), { client: proxy });
      assert.equal(r.status, 200);
      assert.equal(r.body.kind, 'MetricValueList');
      assert.equal(r.body.apiVersion, 'custom.metrics.k8s.io/v1beta2');
      assert.deepEqual(
        r.body.items.map((i: MetricValue) => [i.describedObject.name, i.value]),
        [
          ['iris-a', '1'],
          ['iris-b', '1500m'],
        ],
      );
      const a = r.body.items[0];
      assert.deepEqual(a.describedObject, { kind: 'Pod', namespace: 'ml', name: 'iris-a', apiVersion: 'v1' });
      assert.deepEqual(a.metric, { name: 'cortex_in_flight_requests' });
      assert.equal(a.timestamp, '2030-01-01T00:00:59Z');
      assert.equal(a.windowSeconds, 9);

      const v1 = await get(podsPath('v1beta1'), { client: proxy });
      assert.equal(v1.body.apiVersion, 'custom.metrics.k8s.io/v1beta1');
      assert.deepEqual(
        v1.body.items.map((i: MetricValue) => [i.describedObject.name, i.metricName, i.value]),
        [
          ['iris-a', 'cortex_in_flight_requests', '1'],
          ['iris-b', 'cortex_in_flight_requests', '1500m'],
        ],
      );

      const all = await get(podsPath('v1beta2', ''), { client: proxy });
      assert.deepEqual(
        all.body.items.map((i: MetricValue) => [i.describedObject.name, i.value]),
        [
          ['iris-a', '1'],
          ['iris-b', '1500m'],
          ['other-a', '9'],
        ],
        'no selector: every pod of the namespace',
      );
      const none = await get(podsPath('v1beta2', 'cortex.dev/api=nothing'), { client: proxy });
      assert.deepEqual([none.status, none.body.items], [200, []], 'no pod matches: an empty list');
      const other = await get(podsPath('v1beta2', 'cortex.dev/api=iris', 'elsewhere'), { client: proxy });
      assert.deepEqual(other.body.items, [], 'a same-named pod in another namespace has no samples of its own');
      const metricSel = await get(`${podsPath('v1beta2')}&metricLabelSelector=${encodeURIComponent('instance=x')}`, {
        client: proxy,
      });
      assert.deepEqual(
        metricSel.body.items,
        [],
        'the metric has no labels: a metric selector requiring one matches nothing',
      );
    },
  );

  test('one pod by name; a pod without samples, another metric or another resource: 404 Status', async () => {
    const one = await get('/apis/custom.metrics.k8s.io/v1beta2/namespaces/ml/pods/iris-b/cortex_in_flight_requests', {
      client: proxy,
    });
    assert.equal(one.status, 200);
    assert.deepEqual(
      one.body.items.map((i: MetricValue) => i.value),
      ['1500m'],
    );
    for (const [path, re] of [
      [
        '/apis/custom.metrics.k8s.io/v1beta2/namespaces/ml/pods/iris-new/cortex_in_flight_requests',
        /could not find the metric cortex_in_flight_requests for pods ml\/iris-new/,
      ],
      [
        '/apis/custom.metrics.k8s.io/v1beta2/namespaces/ml/pods/%2A/http_requests',
        /could not find the metric http_requests for pods/,
      ],
      ['/apis/custom.metrics.k8s.io/v1beta2/namespaces/ml/services/%2A/cortex_in_flight_requests', /for services/],
      ['/apis/custom.metrics.k8s.io/v1beta2/pods/%2A/cortex_in_flight_requests', /pods are namespaced/],
      [
        '/apis/custom.metrics.k8s.io/v1/namespaces/ml/pods/%2A/cortex_in_flight_requests',
        /could not find the requested resource/,
      ],
    ] as const) {
      const r = await get(path, { client: proxy });
      assert.equal(r.status, 404, path);
      assert.deepEqual([r.body.kind, r.body.reason, r.body.code], ['Status', 'NotFound', 404]);
      assert.match(r.body.message, re);
    }
  });

  test('a malformed selector is a 400, a write a 405', async () => {
    const bad = await get(podsPath('v1beta2', 'cortex.dev/api in iris'), { client: proxy });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /invalid selector: expected "\(" after in/);
    const post = await get(podsPath('v1beta2'), { client: proxy, method: 'POST' });
    assert.equal(post.status, 405);
  });

  test(
    'every metric read is authorized for the user the proxy names, with its groups and extra; ' +
      'a denial is a 403 that says why',
    async () => {
      asked.length = 0;
      await get(podsPath('v1beta2'), {
        client: proxy,
        headers: { 'X-Remote-Extra-Scopes': ['a', 'b'], 'X-Remote-Extra-Team%2FName': 'ml' },
      });
      assert.equal(asked.length, 1);
      assert.deepEqual(asked[0].user, {
        name: 'system:serviceaccount:kube-system:horizontal-pod-autoscaler',
        groups: ['system:serviceaccounts', 'system:authenticated'],
        extra: { scopes: ['a', 'b'], 'team/name': ['ml'] },
      });
      assert.deepEqual(asked[0].attributes, {
        namespace: 'ml',
        verb: 'get',
        group: 'custom.metrics.k8s.io',
        version: 'v1beta2',
        resource: 'pods',
        subresource: 'cortex_in_flight_requests',
        name: '*',
      });
      const denied = await get(podsPath('v1beta2'), { client: proxy, headers: { 'X-Remote-User': 'mallory' } });
      assert.equal(denied.status, 403);
      assert.match(
        denied.body.message,
        /mallory cannot get pods\/cortex_in_flight_requests "\*" in the API group "custom.metrics.k8s.io" in the namespace "ml": RBAC: no rule/,
      );
      const noUser = await get(podsPath('v1beta2'), { client: proxy, headers: { 'X-Remote-User': '' } });
      assert.equal(noUser.status, 401);
    },
  );

  test('a new front-proxy CA applies to new connections: certificates of the old one are then refused', async () => {
    const nextCa = await makeCa('front-proxy-ca-2');
    const nextProxy = await clientCert('front-proxy-client', nextCa);
    config.clientCA = nextCa.cert;
    server.setClientCA(nextCa.cert);
    try {
      assert.equal((await get(podsPath('v1beta2'), { client: nextProxy })).status, 200);
      assert.equal((await get(podsPath('v1beta2'), { client: proxy })).status, 401);
    } finally {
      config.clientCA = ca.cert;
      server.setClientCA(ca.cert);
    }
  });
});
