// Test helper: throwaway project folders holding a cortex.yaml and the files it names.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { loadProject } from './load.ts';

const made: string[] = [];
after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

/** Creates a folder with `files` (path → content) and returns its absolute path. */
export function project(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-config-'));
  made.push(dir);
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

/** Loads a cortex.yaml that must fail, with predictor.py beside it; returns the error. */
export function failing(yaml: string, files: Record<string, string> = { 'predictor.py': '' }): ConfigError {
  const dir = project({ 'cortex.yaml': yaml, ...files });
  try {
    loadProject(dir);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

/**
 * Asserts the error has an issue at `line` for `field` (and `api`), whose message and fix match,
 * and that the rendered error message shows it with file, line, api, field and fix.
 */
export function expectIssue(
  err: ConfigError,
  want: { line: number; field: string; api?: string; message: RegExp; fix?: RegExp },
): ConfigIssue {
  const issue = err.issues.find((i) => i.line === want.line && i.field === want.field);
  assert.ok(issue, `no issue at line ${want.line} for ${want.field}; got:\n${err.message}`);
  assert.equal(issue.api, want.api, `api of ${want.field}`);
  assert.match(issue.message, want.message);
  if (want.fix) assert.match(issue.fix, want.fix);
  assert.ok(issue.fix.length > 0, 'every issue has a fix');
  const apiPrefix = want.api !== undefined ? `api "${want.api}": ` : '';
  const rendered =
    `${issue.file}:${issue.line}:${issue.column}: ${apiPrefix}` + `${issue.field}: ${issue.message}; fix: ${issue.fix}`;
  assert.ok(err.message.split('\n').includes(rendered), `message lacks:\n${rendered}\ngot:\n${err.message}`);
  return issue;
}

/** One RealtimeAPI in cortex.yaml, with a python predictor at predictor.py; `extra` goes under it. */
export const realtimeApi = (name: string, extra = '') =>
  `- name: ${name}\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n${extra}`;
