// The spec schema must stay usable as a CRD openAPIV3Schema (structural) and explain itself.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { RealtimeApiSpecSchema, GROUP, VERSION, KIND, PLURAL } from './index.ts';

type Node = Record<string, unknown>;

function walk(node: Node, path: string, visit: (node: Node, path: string) => void): void {
  visit(node, path);
  for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, Node>))
    walk(child, `${path}.${key}`, visit);
  if (node.items) walk(node.items as Node, `${path}[]`, visit);
  if (typeof node.additionalProperties === 'object') walk(node.additionalProperties as Node, `${path}{}`, visit);
}

// What the CRD will carry: the schema as JSON (TypeBox's symbol keys drop out).
const wire = JSON.parse(JSON.stringify(RealtimeApiSpecSchema)) as Node;

test('group, version, kind, plural', () => {
  assert.deepEqual([GROUP, VERSION, KIND, PLURAL], ['cortex.dev', 'v1alpha1', 'RealtimeAPI', 'realtimeapis']);
});

test('every node is structural: a type (or int-or-string), no forbidden keywords', () => {
  walk(wire, 'spec', (node, path) => {
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
    ]) {
      assert.ok(!(forbidden in node), `${path} uses ${forbidden}`);
    }
    assert.notEqual(node.additionalProperties, false, `${path} has additionalProperties: false`);
    if (node['x-kubernetes-int-or-string'] === true) {
      assert.deepEqual(node.anyOf, [{ type: 'integer' }, { type: 'string' }], path);
      assert.ok(!('type' in node), path);
    } else {
      assert.ok(typeof node.type === 'string', `${path} has no type`);
      assert.ok(!('anyOf' in node), `${path} uses anyOf`);
    }
    if (node['x-kubernetes-preserve-unknown-fields'] === true) assert.equal(node.type, 'object', path);
  });
});

test('every field has a description (kubectl explain)', () => {
  walk(wire, 'spec', (node, path) => {
    if (path.endsWith('[]') || path.endsWith('{}')) return;
    assert.ok(typeof node.description === 'string' && node.description.length > 10, `${path} lacks a description`);
  });
});

test('defaults are valid for their field, and required fields have none', () => {
  const ajv = new Ajv({ strict: false });
  walk(wire, 'spec', (node, path) => {
    if ('default' in node)
      assert.ok(ajv.validate(node, node.default), `${path}: default ${JSON.stringify(node.default)} is invalid`);
    for (const key of (node.required ?? []) as string[]) {
      const child = (node.properties as Record<string, Node>)[key];
      assert.ok(!('default' in child), `${path}.${key} is required and has a default`);
    }
  });
  assert.equal(wire.required, undefined, 'predictor or pod: a CEL rule (and validateSpec) wants exactly one');
  assert.deepEqual((wire.properties as Record<string, Node>).predictor.required, ['type', 'path']);
});

test('camelCase field names', () => {
  walk(wire, 'spec', (node, path) => {
    for (const key of Object.keys((node.properties ?? {}) as object))
      assert.match(key, /^[a-z][a-zA-Z0-9]*$/, `${path}.${key}`);
  });
});
