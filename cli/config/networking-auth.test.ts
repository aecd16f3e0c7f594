// networking.auth in a cortex.yaml: the modes, and the mistakes, each with file, line, API, field and fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectIssue, failing, project } from './fixtures.ts';
import { loadProject } from './load.ts';

const api = (networking: string) =>
  `- name: iris\n  kind: RealtimeAPI\n  predictor: {type: python, path: predictor.py}\n  networking: ${networking}\n`;

test('networking.auth: none by default, api_key when asked for', () => {
  const none = loadProject(project({ 'cortex.yaml': api('{endpoint: /iris}'), 'predictor.py': '' }));
  assert.equal(none.apis[0].spec.networking.auth, 'none');
  const keyed = loadProject(project({ 'cortex.yaml': api('{auth: api_key}'), 'predictor.py': '' }));
  assert.equal(keyed.apis[0].spec.networking.auth, 'api_key');
});

test('an unknown auth mode, and a rate limit in the spec (limits belong to keys), are refused', () => {
  expectIssue(failing(api('{auth: apikey}')), {
    line: 4,
    field: 'networking.auth',
    api: 'iris',
    message: /must be one of: none, api_key \(got "apikey"\)/,
    fix: /write api_key/,
  });
  expectIssue(failing(api('{auth: api_key, rate_limit: 10}')), {
    line: 4,
    field: 'networking.rate_limit',
    api: 'iris',
    message: /unknown field "rate_limit" under networking/,
    fix: /remove it; fields allowed here: endpoint, auth/,
  });
});
