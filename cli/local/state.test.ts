import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { layout } from './paths.ts';
import { lastGoodFile, loadState, readState, writeState, type StateFile } from './state.ts';

const home = mkdtempSync(path.join(tmpdir(), 'cortex-state-test-'));
after(() => rmSync(home, { recursive: true, force: true }));
const l = layout(home);
const state: StateFile = { apis: { iris: { name: 'iris', createdAt: '2026-01-01T00:00:00.000Z' } } };

test('a corrupt state.json is moved aside and the last good copy restored, saying so', () => {
  writeState(l, state);
  assert.deepEqual(loadState(l), { state });
  writeFileSync(l.state, '{"apis": {"iris": {"na');
  assert.deepEqual(readState(l), state, 'the CLI reads the last good copy too');
  const { state: loaded, warning } = loadState(l);
  assert.deepEqual(loaded, state);
  assert.match(warning ?? '', /state.json could not be read \(.*JSON.*\); it was moved to .*state.json.corrupt-/);
  assert.match(warning ?? '', /the last good copy .* was restored, with APIs: iris/);
  assert.deepEqual(JSON.parse(readFileSync(l.state, 'utf8')), state, 'state.json is good again');
  assert.equal(readdirSync(home).filter((f) => f.startsWith('state.json.corrupt-')).length, 1);
});

test('a state.json of the wrong shape counts as corrupt; without a good copy the loss is said', () => {
  writeFileSync(l.state, JSON.stringify({ apis: { iris: { name: 5, createdAt: '2026-01-01' } } }));
  rmSync(lastGoodFile(l));
  const { state: loaded, warning } = loadState(l);
  assert.deepEqual(loaded, { apis: {} });
  assert.match(warning ?? '', /\/apis\/iris\/name: Expected string.*no good copy: the deployed APIs are forgotten/);
  rmSync(l.state, { force: true });
  assert.deepEqual(loadState(l), { state: { apis: {} } }, 'no file: nothing deployed, nothing to say');
});
