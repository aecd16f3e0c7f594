import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildJobCrd, jobCrdFiles } from './generate-jobs-crd.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

test('the job CRDs are up to date (run npm run manifests)', () => {
  for (const [file, text] of Object.entries(jobCrdFiles())) {
    assert.equal(readFileSync(path.join(root, file), 'utf8'), text, file);
  }
});

test('BatchJob: items of any JSON, status subresource, batch counts as printer columns', () => {
  const crd = buildJobCrd('BatchJob') as { spec: { versions: Record<string, unknown>[] } };
  const [v] = crd.spec.versions;
  assert.deepEqual(v.subresources, { status: {} });
  const columns = (v.additionalPrinterColumns as { name: string }[]).map((c) => c.name);
  assert.deepEqual(columns, ['API', 'Status', 'Succeeded', 'Failed', 'Total', 'Age']);
  const schema = JSON.stringify(v.schema);
  assert.match(schema, /"items":\{"x-kubernetes-preserve-unknown-fields":true\}/);
  assert.match(schema, /"required":\["api","workers"\]/);
  // the items come from exactly one of the three (the submission's item_list, file_path_lister, delimited_files)
  assert.match(
    schema,
    /"rule":"\[has\(self.itemList\), has\(self.filePathLister\), has\(self.delimitedFiles\)\].filter\(x, x\).size\(\) == 1"/,
  );
  assert.match(schema, /"filePathLister":\{.*"s3Paths":\{"minItems":1,"maxItems":1000/);
});

test('BatchAPI refuses the RealtimeAPI-only predictor fields in its CEL rules', () => {
  const schema = JSON.stringify(buildJobCrd('BatchAPI'));
  assert.match(schema, /!has\(self.predictor.serverSideBatching\)/);
  assert.match(schema, /self.predictor.type == 'python'/);
});
