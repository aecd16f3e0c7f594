import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricsApiObjects } from './manifests.ts';

test('in a cluster: a ClusterIP Service on the operator pods and one APIService per version, v1beta2 preferred', () => {
  const [svc, v2, v1] = metricsApiObjects({
    namespace: 'cortex-system',
    selector: { app: 'op' },
    caBundle: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n',
  });
  assert.deepEqual(svc.spec, {
    type: 'ClusterIP',
    selector: { app: 'op' },
    ports: [{ name: 'metrics-api', port: 443, targetPort: 6443, protocol: 'TCP' }],
  });
  assert.deepEqual(
    [v2.metadata?.name, v1.metadata?.name],
    ['v1beta2.custom.metrics.k8s.io', 'v1beta1.custom.metrics.k8s.io'],
  );
  const spec2 = v2.spec as Record<string, unknown>;
  const spec1 = v1.spec as Record<string, unknown>;
  assert.deepEqual(spec2.service, { namespace: 'cortex-system', name: 'cortex-operator-metrics-api', port: 443 });
  assert.ok((spec2.versionPriority as number) > (spec1.versionPriority as number));
  assert.equal(
    Buffer.from(spec2.caBundle as string, 'base64').toString(),
    '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n',
  );
  assert.equal(spec2.insecureSkipTLSVerify, undefined, 'verified when the CA is known');
});

test(
  'a local operator (tests): an ExternalName Service and the APIServices dialling its port; ' +
    'no CA: verification skipped',
  () => {
    const [svc, v2] = metricsApiObjects({ namespace: 'cortex-system', externalName: 'localhost', targetPort: 41234 });
    assert.deepEqual(svc.spec, { type: 'ExternalName', externalName: 'localhost' });
    const spec = v2.spec as Record<string, unknown>;
    assert.deepEqual(spec.service, { namespace: 'cortex-system', name: 'cortex-operator-metrics-api', port: 41234 });
    assert.equal(spec.insecureSkipTLSVerify, true);
  },
);
