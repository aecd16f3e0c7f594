// The committed CRD is what the spec generates (kubebuilder's `make manifests` habit), it is a
// structural schema the API server accepts, and it carries the CEL rules for cross-field checks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { CRD_PATH, buildCrd, renderCrd } from './generate-crd.ts';

type Node = Record<string, unknown>;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const crd = buildCrd() as { spec: { versions: Node[]; names: Node; scope: string; group: string } };
const version = crd.spec.versions[0] as {
  schema: { openAPIV3Schema: Node };
  subresources: Node;
  additionalPrinterColumns: Node[];
};
const schema = version.schema.openAPIV3Schema;

function walk(node: Node, at: string, visit: (node: Node, at: string) => void): void {
  visit(node, at);
  for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, Node>))
    walk(child, `${at}.${key}`, visit);
  if (node.items) walk(node.items as Node, `${at}[]`, visit);
  if (typeof node.additionalProperties === 'object') walk(node.additionalProperties as Node, `${at}{}`, visit);
}

function nodeAt(dotted: string): Node {
  let n = schema;
  for (const key of dotted.split('.').filter(Boolean)) n = (n.properties as Record<string, Node>)[key];
  return n;
}

function rulesAt(dotted: string): { rule: string; message: string; fieldPath?: string }[] {
  return (nodeAt(dotted)['x-kubernetes-validations'] ?? []) as { rule: string; message: string }[];
}

test(`${CRD_PATH} is up to date (run npm run manifests)`, () => {
  const committed = readFileSync(path.join(root, CRD_PATH), 'utf8');
  assert.equal(
    committed,
    renderCrd(),
    `${CRD_PATH} differs from what operator/api/v1alpha1 generates: run npm run manifests and commit the result`,
  );
  assert.deepEqual(parse(committed), buildCrd());
});

test('names, scope, version, status subresource and printer columns', () => {
  assert.equal(crd.spec.group, 'cortex.dev');
  assert.equal(crd.spec.scope, 'Namespaced');
  assert.deepEqual(crd.spec.names, {
    kind: 'RealtimeAPI',
    listKind: 'RealtimeAPIList',
    plural: 'realtimeapis',
    singular: 'realtimeapi',
    shortNames: ['rapi'],
    categories: ['cortex'],
  });
  assert.equal(crd.spec.versions.length, 1);
  assert.deepEqual(
    [crd.spec.versions[0].name, crd.spec.versions[0].served, crd.spec.versions[0].storage],
    ['v1alpha1', true, true],
  );
  assert.deepEqual(version.subresources, { status: {} });
  assert.deepEqual(
    version.additionalPrinterColumns.map((c) => [c.name, c.type, c.jsonPath]),
    [
      ['Status', 'string', '.status.status'],
      ['Ready', 'string', '.status.ready'],
      ['Endpoint', 'string', '.status.endpoint'],
      ['Age', 'date', '.metadata.creationTimestamp'],
    ],
  );
});

test('the whole schema is structural', () => {
  walk(schema, '', (node, at) => {
    for (const forbidden of [
      '$ref',
      'patternProperties',
      'const',
      'uniqueItems',
      'oneOf',
      'allOf',
      'not',
      'exclusiveMinimum',
      'exclusiveMaximum',
      '$id',
      'definitions',
      'additionalItems',
    ]) {
      assert.ok(!(forbidden in node), `${at} uses ${forbidden}`);
    }
    assert.notEqual(node.additionalProperties, false, `${at} has additionalProperties: false`);
    if (node['x-kubernetes-int-or-string'] === true) {
      assert.deepEqual(node.anyOf, [{ type: 'integer' }, { type: 'string' }], at);
    } else {
      assert.ok(typeof node.type === 'string', `${at} has no type`);
      assert.ok(!('anyOf' in node), `${at} uses anyOf`);
    }
    if (node.properties !== undefined && typeof node.additionalProperties === 'object')
      assert.fail(`${at} has both properties and additionalProperties`);
  });
  assert.deepEqual(nodeAt('spec.predictor.config')['x-kubernetes-preserve-unknown-fields'], true);
  assert.equal(nodeAt('spec.compute.gpu').type, 'integer');
  assert.equal(nodeAt('spec.compute.gpu').minimum, 0);
  assert.equal(nodeAt('spec.compute.cpu')['x-kubernetes-int-or-string'], true);
  assert.equal(nodeAt('spec.compute.mem')['x-kubernetes-int-or-string'], true);
});

test('defaults are in the schema, so the API server fills them in', () => {
  assert.deepEqual(nodeAt('spec.autoscaling').default, {});
  assert.equal(nodeAt('spec.autoscaling.minReplicas').default, 1);
  assert.equal(nodeAt('spec.autoscaling.maxReplicas').default, 100);
  assert.equal(nodeAt('spec.compute.cpu').default, '200m');
  assert.equal(nodeAt('spec.updateStrategy.maxSurge').default, '25%');
});

test('CEL rules for the cross-field checks', () => {
  const rules = (at: string) => rulesAt(at).map((r) => r.rule);
  assert.ok(rules('spec.autoscaling').some((r) => r.endsWith('self.minReplicas <= self.maxReplicas')));
  assert.ok(
    rules('spec.autoscaling').some(
      (r) => r.includes('self.initReplicas >= self.minReplicas') && r.includes('self.initReplicas <= self.maxReplicas'),
    ),
  );
  assert.ok(rules('spec.autoscaling').some((r) => r.includes('maxDownscaleFactor')));
  assert.ok(rules('spec.autoscaling').some((r) => r.includes('duration(self.window)')));
  assert.ok(rules('spec.updateStrategy').some((r) => r.includes('maxSurge') && r.includes('maxUnavailable')));
  assert.ok(rules('spec.predictor').includes('has(self.bundle) || has(self.image)'));
  assert.ok(rules('').some((r) => r.includes('self.metadata.name')));
  for (const at of [
    '',
    'spec.predictor',
    'spec.predictor.serverSideBatching',
    'spec.autoscaling',
    'spec.updateStrategy',
  ]) {
    for (const r of rulesAt(at)) {
      assert.ok(r.message.length > 10, `${at}: rule ${r.rule} needs a message`);
      assert.equal(count(r.rule, '('), count(r.rule, ')'), `${at}: unbalanced parentheses in ${r.rule}`);
      if (r.fieldPath !== undefined) {
        assert.match(r.fieldPath, /^(\.[a-zA-Z]+)+$/, `${at}: fieldPath ${r.fieldPath}`);
        if (at !== '') assert.ok(nodeAt(`${at}${r.fieldPath}`), `${at}: fieldPath ${r.fieldPath} names no field`);
      }
    }
  }
});

test('every string and list a CEL rule reads is bounded (the cost estimator needs it)', () => {
  walk(schema, '', (node, at) => {
    for (const { rule } of (node['x-kubernetes-validations'] ?? []) as { rule: string }[]) {
      for (const [, field] of rule.matchAll(/self\.([a-zA-Z]+)/g)) {
        if (field === 'metadata') continue;
        const child = (node.properties as Record<string, Node>)[field];
        assert.ok(child, `${at}: rule reads unknown field ${field}`);
        if (child.type === 'string' || child['x-kubernetes-int-or-string'])
          assert.equal(typeof child.maxLength, 'number', `${at}.${field} needs maxLength`);
        if (child.type === 'array') assert.equal(typeof child.maxItems, 'number', `${at}.${field} needs maxItems`);
      }
    }
  });
});

test('status: conditions are a list-map keyed by type, the status word an enum', () => {
  const conditions = nodeAt('status.conditions');
  assert.equal(conditions['x-kubernetes-list-type'], 'map');
  assert.deepEqual(conditions['x-kubernetes-list-map-keys'], ['type']);
  const item = conditions.items as Node;
  assert.ok((item.required as string[]).includes('type'), 'a list-map key must be required');
  assert.deepEqual(nodeAt('status.status').enum, [
    'live',
    'updating',
    'error',
    'error (out of memory)',
    'error (image pull)',
    'compute unavailable',
  ]);
  for (const f of ['observedGeneration', 'replicas', 'endpoint', 'message', 'ready'])
    assert.ok(nodeAt(`status.${f}`), f);
  assert.deepEqual(Object.keys(nodeAt('status.replicas').properties as object), [
    'requested',
    'ready',
    'updated',
    'available',
  ]);
});

function count(s: string, c: string): number {
  return s.split(c).length - 1;
}
