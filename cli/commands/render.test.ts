import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import YAML from 'yaml';
import { RENDER_HEADER } from './render.ts';
import { cortex, prodEnv, testFactory } from './testing.ts';

const IRIS = fileURLToDir('../../examples/iris-classifier');
const out = mkdtempSync(path.join(tmpdir(), 'cortex-render-test-'));
after(() => rmSync(out, { recursive: true, force: true }));
// an API whose image holds the code: --no-bundle
const BAKED = path.join(out, 'baked');
mkdirSync(BAKED);
writeFileSync(path.join(BAKED, 'predictor.py'), 'class PythonPredictor:\n  pass\n');
writeFileSync(
  path.join(BAKED, 'cortex.yaml'),
  '- name: baked\n  kind: RealtimeAPI\n  predictor: {type: python, path: predictor.py, image: example.com/baked:1}\n',
);

function fileURLToDir(rel: string): string {
  return new URL(rel, import.meta.url).pathname;
}

const kindsAndNamespaces = (yaml: string) =>
  YAML.parseAllDocuments(yaml).map((d) => {
    const obj: unknown = d.toJS();
    assert.ok(typeof obj === 'object' && obj !== null && 'kind' in obj && 'metadata' in obj);
    const metadata = obj.metadata;
    assert.ok(typeof metadata === 'object' && metadata !== null);
    return [obj.kind, 'namespace' in metadata ? metadata.namespace : undefined];
  });

test('render: the bundle ConfigMaps and the RealtimeAPI as YAML on stdout, the bundle summary on stderr', async () => {
  const { code, stdout, stderr } = await cortex(testFactory(), 'render', IRIS);
  assert.equal(code, 0);
  assert.deepEqual(kindsAndNamespaces(stdout), [
    ['ConfigMap', undefined],
    ['RealtimeAPI', undefined],
  ]);
  assert.match(stderr, /^bundle: \d+ files, [\d.]+ KiB, sha256 [0-9a-f]{64}\n$/);
  const bare = await cortex(testFactory(), 'render', BAKED, '--no-bundle', '-n', 'team');
  assert.deepEqual(kindsAndNamespaces(bare.stdout), [['RealtimeAPI', 'team']]);
  assert.equal(bare.stderr, '');
});

test('render -e CLUSTER takes its namespace; -e local is a usage error (2); so is a bad project', async () => {
  const f = testFactory({ environments: [prodEnv] });
  const { stdout } = await cortex(f, 'render', BAKED, '-e', 'prod', '--no-bundle');
  assert.deepEqual(kindsAndNamespaces(stdout), [['RealtimeAPI', 'ml']]);
  assert.deepEqual(f.connected, [], 'render does not talk to the cluster');
  assert.deepEqual(await cortex(testFactory(), 'render', IRIS, '-e', 'local'), {
    code: 2,
    stdout: '',
    stderr:
      'error: -e local is the local environment; render is for clusters (give a cluster environment or --namespace)\n',
  });
  const missing = await cortex(testFactory(), 'render', path.join(out, 'nothing-here'));
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: /);
  const notBaked = await cortex(testFactory(), 'render', IRIS, '--no-bundle');
  assert.equal(notBaked.code, 2);
  assert.match(notBaked.stderr, /--no-bundle means the code is baked into predictor\.image/);
});

test('render -d DIR writes one file per object and a kustomization.yaml, and says how to apply them', async () => {
  const dir = path.join(out, 'manifests');
  const { code, stdout } = await cortex(testFactory(), 'render', IRIS, '-d', dir);
  assert.equal(code, 0);
  assert.equal(stdout, `wrote 2 manifests to ${dir}: kubectl apply -k ${dir} (or kubectl apply -f ${dir})\n`);
  const files = readdirSync(dir).sort();
  assert.equal(files.length, 3);
  assert.ok(files.includes('kustomization.yaml') && files.includes('realtimeapi-iris-classifier.yaml'));
  for (const file of files) assert.ok(readFileSync(path.join(dir, file), 'utf8').startsWith(RENDER_HEADER));
});

test('render of a Cortex 0.42 pod API: the RealtimeAPI with spec.pod, no bundle (the code is in images)', async () => {
  const v042 = fileURLToDir('../../test/eras/v0_42');
  const { code, stdout, stderr } = await cortex(testFactory(), 'render', v042, '-n', 'ml');
  assert.equal(code, 0, stderr);
  assert.deepEqual(kindsAndNamespaces(stdout), [['RealtimeAPI', 'ml']]);
  assert.equal(stderr, '', 'no bundle summary');
  const api = YAML.parse(stdout) as { spec: Record<string, { containers?: { name: string }[] }> };
  assert.equal(api.spec.predictor, undefined);
  assert.deepEqual(
    api.spec.pod.containers?.map((c) => c.name),
    ['api'],
  );
});

test('render of a BatchAPI: the bundle and the BatchAPI pointing at it, as deploy applies them', async () => {
  const batch = fileURLToDir('../../examples/word-count-batch');
  const { code, stdout, stderr } = await cortex(testFactory(), 'render', batch, '-n', 'ml');
  assert.equal(code, 0, stderr);
  assert.deepEqual(kindsAndNamespaces(stdout), [
    ['ConfigMap', 'ml'],
    ['BatchAPI', 'ml'],
  ]);
  const [cm, api] = YAML.parseAllDocuments(stdout).map((d) => d.toJS() as { metadata: { name: string }; spec: Obj });
  assert.deepEqual(api.spec.predictor.bundle.configMaps, [cm.metadata.name]);
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed YAML, read field by field
type Obj = any;
