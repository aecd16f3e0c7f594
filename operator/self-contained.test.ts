// The operator's image copies only operator/ (operator/Dockerfile): a module of the operator that
// imports from runtime/ or cli/ starts in tests here and fails with ERR_MODULE_NOT_FOUND in the
// image. The image test finds that after a podman build; this finds it at once.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SHARED } from './shared-modules.ts';

const OPERATOR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(OPERATOR);
const shared = (target: string) =>
  SHARED.some((s) => target === path.join(ROOT, s) || target.startsWith(path.join(ROOT, s) + path.sep));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    // generate-*.ts write the CRD and chart at build time (npm run manifests); the image never runs them
    const runs = !e.name.endsWith('.test.ts') && !e.name.endsWith('testing.ts') && !e.name.startsWith('generate-');
    return e.name.endsWith('.ts') && runs ? [p] : [];
  });
}

test('no module the operator runs imports a file outside operator/ and the modules it shares', () => {
  const outside: string[] = [];
  const files = [
    ...sources(OPERATOR),
    ...SHARED.flatMap((s) => (s.endsWith('.ts') ? [path.join(ROOT, s)] : sources(path.join(ROOT, s)))),
  ];
  for (const file of files) {
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
      const target = path.resolve(path.dirname(file), m[1]);
      if (!target.startsWith(OPERATOR + path.sep) && !shared(target))
        outside.push(`${path.relative(ROOT, file)} → ${m[1]}`);
    }
  }
  assert.deepEqual(outside, []);
});

test('the operator image copies the modules it shares with the runtime', () => {
  const dockerfile = readFileSync(path.join(OPERATOR, 'Dockerfile'), 'utf8');
  for (const s of SHARED) assert.match(dockerfile, new RegExp(`^COPY ${s}${s.endsWith('.ts') ? '' : '/'} `, 'm'), s);
});
