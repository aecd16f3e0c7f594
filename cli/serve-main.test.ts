import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

// What a module graph loads, recorded by a resolve hook in a fresh process.
function modulesLoadedBy(entry: string): string[] {
  const script = `
    import { registerHooks } from 'node:module';
    const seen = [];
    registerHooks({
      resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; },
    });
    await import(${JSON.stringify(new URL(entry, import.meta.url).href)});
    console.log(JSON.stringify(seen));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out) as string[];
}

test('cortex serve (every replica start, every wake from zero) loads none of the rest of the CLI', () => {
  const loaded = modulesLoadedBy('./serve-main.ts');
  assert.ok(
    loaded.some((url) => url.endsWith('/runtime/replica.ts')),
    'the hook saw the modules serving needs',
  );
  // the AWS SDK too: runtime/storage loads it only for an s3:// model
  const heavy = loaded.filter((url) =>
    /@kubernetes\/client-node|@aws-sdk|\/cli\/(local|cluster|build)\/|\/cli\/index\.ts/.test(url),
  );
  assert.deepEqual(heavy, []);
});

test('the whole CLI still loads the Kubernetes client (the check above can fail)', () => {
  assert.ok(modulesLoadedBy('./index.ts').some((url) => url.includes('@kubernetes/client-node')));
});
