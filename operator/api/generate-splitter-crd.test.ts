import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SPLITTER_CRD_PATH, buildSplitterCrd, renderSplitterCrd } from './generate-splitter-crd.ts';
import { applySplitterDefaults, validateSplitter } from './v1alpha1/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

test(`${SPLITTER_CRD_PATH} is up to date (run npm run manifests)`, () => {
  assert.equal(readFileSync(path.join(root, SPLITTER_CRD_PATH), 'utf8'), renderSplitterCrd());
});

test('the CRD has a status subresource, printer columns and the CEL rules on weights and shadows', () => {
  const crd = buildSplitterCrd() as { spec: { versions: Record<string, unknown>[] } };
  const [v] = crd.spec.versions;
  assert.deepEqual(v.subresources, { status: {} });
  const columns = (v.additionalPrinterColumns as { name: string }[]).map((c) => c.name);
  assert.deepEqual(columns, ['Status', 'Weights', 'URL', 'Age']);
  const rules = JSON.stringify(v.schema);
  assert.match(rules, /map\(a, a\.weight\)\.sum\(\) == 100/);
  assert.match(rules, /size\(\) <= 1/);
});

test('validateSplitter says what the CEL rules say, with a fix; defaults fill endpoint and shadow', () => {
  const spec = applySplitterDefaults('s', { apis: [{ name: 'a', weight: 60, shadow: false }] });
  assert.equal(spec.networking.endpoint, '/s');
  assert.match(validateSplitter(spec)[0].message, /sum to 60, not 100/);
  const twice = applySplitterDefaults('s', {
    apis: [
      { name: 'a', weight: 100, shadow: false },
      { name: 'a', weight: 0, shadow: true },
    ],
  });
  assert.deepEqual(
    validateSplitter(twice).map((i) => i.path.join('.')),
    ['apis.1.name'],
  );
});
