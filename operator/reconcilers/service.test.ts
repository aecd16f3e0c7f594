// The Service reconciler's desired object and the endpoint the status reports.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desiredService, endpointOf } from './service.ts';
import { api, config } from './test-fixtures.ts';

test('Service: port 80 to 8888, selecting the API; endpoint', () => {
  const a = api({});
  const s = desiredService(a, config(a));
  assert.deepEqual(s.spec, {
    type: 'ClusterIP',
    selector: { 'cortex.dev/api': 'iris' },
    ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8888 }],
  });
  assert.equal(s.metadata?.ownerReferences?.[0].uid, 'uid-1');
  assert.equal(endpointOf(a, { clusterDomain: 'cluster.local' }), 'http://iris.ml.svc.cluster.local/');
});
