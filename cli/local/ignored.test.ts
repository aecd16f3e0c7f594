import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatIssue } from '../config/errors.ts';
import type { LoadedApi, LoadedProject } from '../config/load.ts';
import { localIgnoredWarnings } from './ignored.ts';

const api = (name: string, line: number, image?: string) =>
  ({ name, line, spec: { predictor: image !== undefined ? { image } : {} } }) as unknown as LoadedApi;

test('a local deploy warns that predictor.image is ignored, naming the file, the API and the fix', () => {
  const project = {
    file: '/p/cortex.yaml',
    dir: '/p',
    apis: [api('plain', 1), api('custom', 7, 'quay.io/me/predictor:1')],
    splitters: [],
    jobApis: [],
    warnings: [],
  } as LoadedProject;
  const warnings = localIgnoredWarnings(project);
  assert.equal(warnings.length, 1);
  const text = formatIssue(warnings[0]!);
  assert.match(
    text,
    /cortex\.yaml:7:1: api "custom": predictor\.image: quay\.io\/me\/predictor:1 is ignored by the local/,
  );
  assert.match(text, /fix: put what the image adds in requirements\.txt or dependencies\.sh/);
});

test("a local deploy warns about the pod containers' fields no local runner applies", async () => {
  const { loadProject } = await import('../config/load.ts');
  const project = loadProject(new URL('../../test/eras/v0_42', import.meta.url).pathname);
  const text = localIgnoredWarnings(project).map(formatIssue).join('\n');
  assert.match(
    text,
    /api "sentiment": pod\.containers\[0\]\.liveness_probe: the liveness probe .* is not applied by the local environment/,
  );
});
