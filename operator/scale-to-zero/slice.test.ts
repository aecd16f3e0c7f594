import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Deployment } from '@kubernetes/client-node';
import { applyDefaults } from '../api/v1alpha1/index.ts';
import { deriveStatus } from '../status.ts';
import { desiredActivatorSlice } from './slice.ts';

const api = {
  name: 'iris',
  namespace: 'ml',
  uid: 'u1',
  generation: 3,
  spec: applyDefaults('iris', {
    predictor: { type: 'python', path: 'p.py', image: 'img:1' },
    autoscaling: { minReplicas: 0 },
  }),
};

test(
  "the activator's EndpointSlice joins the API's Service (its name label, " +
    "the port named http) without being the controller's",
  () => {
    const slice = desiredActivatorSlice(api, { address: '10.1.2.3', port: 8889 });
    assert.equal(slice.metadata?.name, 'iris', 'the controller names its slices iris-<random>: this name is free');
    assert.deepEqual(slice.metadata?.labels, {
      'cortex.dev/api': 'iris',
      'app.kubernetes.io/managed-by': 'cortex-operator',
      'kubernetes.io/service-name': 'iris',
      'endpointslice.kubernetes.io/managed-by': 'cortex-operator',
    });
    assert.deepEqual(slice.metadata?.ownerReferences, [
      {
        apiVersion: 'cortex.dev/v1alpha1',
        kind: 'RealtimeAPI',
        name: 'iris',
        uid: 'u1',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    assert.equal(slice.addressType, 'IPv4');
    assert.deepEqual(slice.endpoints, [
      { addresses: ['10.1.2.3'], conditions: { ready: true, serving: true, terminating: false } },
    ]);
    assert.deepEqual(slice.ports, [{ name: 'http', protocol: 'TCP', port: 8889 }]);
    assert.equal(desiredActivatorSlice(api, { address: 'fd00::7', port: 8889 }).addressType, 'IPv6');
  },
);

function deployment(replicas: number, ready: number): V1Deployment {
  return {
    metadata: { generation: 2 },
    spec: { replicas, selector: {}, template: {} },
    status: {
      observedGeneration: 2,
      replicas: ready,
      readyReplicas: ready,
      updatedReplicas: ready,
      availableReplicas: ready,
    },
  };
}

test(
  'an API at zero is live with 0/0 ready and a Ready condition whose reason is ScaledToZero, ' +
    'saying since when and why',
  () => {
    const now = new Date('2026-11-25T10:00:00Z');
    const s = deriveStatus({
      name: 'iris',
      namespace: 'ml',
      generation: 3,
      pods: [],
      now,
      deployment: deployment(0, 0),
      scaledToZero: { after: '5m', since: '2026-11-25T09:58:00Z' },
    });
    assert.equal(s.status, 'live');
    assert.equal(s.ready, '0/0');
    const ready = s.conditions!.find((c) => c.type === 'Ready')!;
    assert.deepEqual([ready.status, ready.reason], ['True', 'ScaledToZero']);
    assert.equal(
      ready.message,
      'no replicas (scaled to zero at 2026-11-25T09:58:00Z after 5m without a request); ' +
        'the next request starts one and is answered once it is ready',
    );
    const created = deriveStatus({
      name: 'iris',
      namespace: 'ml',
      generation: 3,
      pods: [],
      now,
      deployment: deployment(0, 0),
      scaledToZero: { after: '5m' },
    });
    assert.match(created.conditions!.find((c) => c.type === 'Ready')!.message, /its Deployment has 0 replicas/);
    // woken: one replica requested, not ready yet → updating, as any replica on its way
    const waking = deriveStatus({
      name: 'iris',
      namespace: 'ml',
      generation: 3,
      pods: [],
      now,
      deployment: deployment(1, 0),
    });
    assert.equal(waking.status, 'updating');
    assert.equal(waking.ready, '0/1');
  },
);
