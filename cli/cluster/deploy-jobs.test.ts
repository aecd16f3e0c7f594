// The BatchAPIs and TaskAPIs a cluster deploy (and cortex render) writes: built from the file's
// job APIs by the same code as its RealtimeAPIs, pointing at the same bundle, and applied to their
// own resources. The deploy itself, against a real control plane: test/batch/job-cli.cluster-test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { project } from '../config/fixtures.ts';
import { loadProject } from '../config/index.ts';
import { CliError } from '../errors.ts';
import { BATCH_APIS, TASK_APIS } from '../../operator/job-resources.ts';
import { REALTIME_APIS } from '../../operator/kube/resources.ts';
import { jobApiObjects, needsBundle, realtimeApis, resourceOf } from './manifests.ts';

const bundle = { configMaps: ['cortex-bundle-abc-0'], sha256: 'a'.repeat(64) };

const mixed = () =>
  loadProject(
    project({
      'cortex.yaml':
        '- name: web\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: p.py\n' +
        '- name: nightly\n  kind: BatchAPI\n  handler:\n    path: p.py\n    config: {a: 1}\n' +
        '  compute:\n    cpu: 2\n' +
        '- name: report\n  kind: TaskAPI\n  definition:\n    path: t.py\n  networking:\n    endpoint: /reports\n',
      'p.py': '',
      't.py': '',
    }),
  );

test('job APIs become BatchAPI and TaskAPI objects with the bundle the RealtimeAPIs get', () => {
  const p = mixed();
  const [batch, task] = jobApiObjects(p, bundle, 'ml');
  const [web] = realtimeApis(p, bundle, 'ml');
  assert.equal(batch.apiVersion, 'cortex.dev/v1alpha1');
  assert.equal(batch.kind, 'BatchAPI');
  assert.deepEqual(batch.metadata, {
    name: 'nightly',
    namespace: 'ml',
    labels: { 'app.kubernetes.io/managed-by': 'cortex' },
  });
  assert.deepEqual(batch.metadata.labels, web.metadata.labels);
  assert.deepEqual(batch.spec.predictor.bundle, bundle);
  assert.deepEqual(batch.spec.predictor.bundle, web.spec.predictor?.bundle, 'one bundle for the whole project');
  assert.deepEqual(batch.spec.predictor.config, { a: 1 });
  assert.equal(batch.spec.compute.cpu, 2);
  assert.equal(batch.spec.networking.endpoint, '/nightly');
  assert.deepEqual(Object.keys(batch.spec).sort(), ['compute', 'networking', 'predictor']);
  assert.equal(task.kind, 'TaskAPI');
  assert.equal(task.spec.predictor.path, 't.py');
  assert.equal(task.spec.networking.endpoint, '/reports');
  assert.equal(resourceOf(batch), BATCH_APIS);
  assert.equal(resourceOf(task), TASK_APIS);
  assert.equal(resourceOf(web), REALTIME_APIS);
});

test('render without a namespace leaves metadata.namespace out, as for RealtimeAPIs', () => {
  const [batch] = jobApiObjects(mixed(), bundle, undefined);
  assert.equal('namespace' in batch.metadata, false);
});

test('a project of job APIs only still has code to upload', () => {
  const p = loadProject(
    project({ 'cortex.yaml': '- name: nightly\n  kind: BatchAPI\n  handler:\n    path: p.py\n', 'p.py': '' }),
  );
  assert.equal(p.apis.length, 0);
  assert.equal(needsBundle(p), true);
});

test('--no-bundle: a job API without predictor.image is refused, naming it; with one it keeps the image', () => {
  assert.throws(
    () => jobApiObjects(mixed(), undefined, 'ml'),
    (e: unknown) =>
      e instanceof CliError &&
      /--no-bundle means the code is baked into predictor.image, but web, nightly, report have no predictor.image/.test(
        e.message,
      ),
  );
  const baked = loadProject(
    project({
      'cortex.yaml': '- name: nightly\n  kind: BatchAPI\n  handler:\n    path: p.py\n    image: reg/nightly:1\n',
      'p.py': '',
    }),
  );
  const [batch] = jobApiObjects(baked, undefined, 'ml');
  assert.equal(batch.spec.predictor.image, 'reg/nightly:1');
  assert.equal(batch.spec.predictor.bundle, undefined);
});
