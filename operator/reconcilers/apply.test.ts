// The "already up to date?" check that keeps restarts and resyncs from writing anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { covers, difference } from './apply.ts';

test('difference: fields the server added do not count; changed, missing or resized ones do', () => {
  const desired = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'iris', labels: { a: '1' } },
    spec: {
      template: {
        spec: { containers: [{ name: 'api', image: 'img:2', resources: { requests: { cpu: 1, memory: '256Mi' } } }] },
      },
    },
  };
  const actual = {
    metadata: { name: 'iris', labels: { a: '1' }, uid: 'u', resourceVersion: '9' },
    spec: {
      replicas: 3,
      template: {
        spec: {
          dnsPolicy: 'ClusterFirst',
          containers: [
            {
              name: 'api',
              image: 'img:2',
              imagePullPolicy: 'IfNotPresent',
              resources: { requests: { cpu: '1', memory: '256Mi' } },
            },
          ],
        },
      },
    },
  };
  assert.equal(difference(actual, desired), undefined, 'list items carry no apiVersion/kind; 1 and "1" are the same');
  assert.ok(covers(actual, desired));
  const edited = structuredClone(actual);
  edited.spec.template.spec.containers[0].image = 'evil:1';
  assert.equal(difference(edited, desired), 'spec.template.spec.containers.0.image');
  const unlabelled = structuredClone(actual) as { metadata: { labels?: object } };
  delete unlabelled.metadata.labels;
  assert.equal(difference(unlabelled, desired), 'metadata.labels');
  const twoContainers = structuredClone(actual);
  twoContainers.spec.template.spec.containers.push({ ...twoContainers.spec.template.spec.containers[0], name: 'x' });
  assert.equal(difference(twoContainers, desired), 'spec.template.spec.containers');
});

test("difference: quantities in the server's canonical form are the same value", () => {
  assert.equal(difference({ t: '100m' }, { t: '0.1' }), undefined);
  assert.equal(difference({ m: '1Gi' }, { m: '1073741824' }), undefined);
  assert.equal(difference({ t: '200m' }, { t: '0.1' }), 't');
  assert.equal(difference({ s: '25%' }, { s: '25%' }), undefined);
  assert.equal(difference({ s: 'img:1' }, { s: 'img:2' }), 's');
  assert.equal(
    difference({ spec: {} }, { spec: { tolerations: [], annotations: {} } }),
    undefined,
    'empty lists and maps are omitted by the server',
  );
  assert.equal(difference({ spec: {} }, { spec: { tolerations: [{ key: 'k' }] } }), 'spec.tolerations');
});
