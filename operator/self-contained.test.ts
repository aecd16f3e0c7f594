// The operator's image copies only operator/ (operator/Dockerfile): a module of the operator that
// imports from runtime/ or cli/ starts in tests here and fails with ERR_MODULE_NOT_FOUND in the
// image. The image test finds that after a podman build; this finds it at once.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const OPERATOR = path.dirname(fileURLToPath(import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    // generate-*.ts write the CRD and chart at build time (npm run manifests); the image never runs them
    const runs = !e.name.endsWith('.test.ts') && !e.name.endsWith('testing.ts') && !e.name.startsWith('generate-');
    return e.name.endsWith('.ts') && runs ? [p] : [];
  });
}

test('no module the operator runs imports a file outside operator/', () => {
  const outside: string[] = [];
  for (const file of sources(OPERATOR)) {
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
      const target = path.resolve(path.dirname(file), m[1]);
      if (!target.startsWith(OPERATOR + path.sep)) outside.push(`${path.relative(OPERATOR, file)} → ${m[1]}`);
    }
  }
  assert.deepEqual(outside, []);
});
