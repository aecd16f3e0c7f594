// cortex deploy -e CLUSTER of a file with a BatchAPI or TaskAPI: refused before anything is
// changed, instead of deploying the file's other APIs without it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { project } from '../config/fixtures.ts';
import { CliError } from '../errors.ts';
import type { Connection } from './connect.ts';
import { deployToCluster } from './deploy.ts';

test('a BatchAPI in the file stops a cluster deploy, naming the file, the API and the fix', async () => {
  const dir = project({
    'cortex.yaml':
      '- name: web\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: p.py\n' +
      '- name: nightly\n  kind: BatchAPI\n  handler:\n    path: p.py\n',
    'p.py': '',
  });
  const untouched = {} as Connection; // nothing may be asked of the cluster
  const reporter = { step: () => assert.fail('no step may start'), warning: () => undefined };
  await assert.rejects(deployToCluster({ config: dir, conn: untouched }, reporter as never), (e: unknown) => {
    assert.ok(e instanceof CliError);
    assert.match(e.message, /cortex.yaml:6: api "nightly": cortex deploy does not create BatchAPIs in a cluster yet/);
    assert.match(e.message, /fix: apply it with kubectl/);
    assert.match(e.message, /nothing was changed$/);
    return true;
  });
});
