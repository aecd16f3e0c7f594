import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { loadProject } from '../config/load.ts';
import { CliError } from '../errors.ts';
import { refusePodApisLocally } from './pod-apis.ts';

const V042 = new URL('../../test/eras/v0_42', import.meta.url).pathname;
const bin = mkdtempSync(path.join(tmpdir(), 'cortex-runners-'));
after(() => rmSync(bin, { recursive: true, force: true }));

function refusal(pathVar: string): string {
  try {
    refusePodApisLocally(loadProject(V042), pathVar);
  } catch (error) {
    assert.ok(error instanceof CliError);
    return error.message;
  }
  assert.fail('a pod API was accepted by the local environment');
}

test('the local environment refuses a pod API before anything changes, naming it, the runners and the fix', () => {
  const none = refusal('/nonexistent');
  assert.match(none, /sentiment runs its own containers \(pod:\), and the local environment runs APIs as processes/);
  assert.match(none, /Container runners on this machine: none \(looked for docker, podman on PATH\)/);
  assert.match(none, /Fix: deploy to a cluster environment \(cortex deploy --env <name>; cortex env list\)/);
  // the commands that run it by hand, with the API's own settings
  assert.match(
    none,
    /docker run --rm -d --network host -e LABELS=negative,positive -e CORTEX_PORT=9000 --entrypoint python3 python:3.11-slim -u server.py --port 9000/,
  );
  assert.match(
    none,
    /cortex proxy --api sentiment --upstream-port 9000 --max-concurrency 2 --max-queue-length 3 --port 8888/,
  );

  writeFileSync(path.join(bin, 'podman'), '#!/bin/sh\n');
  chmodSync(path.join(bin, 'podman'), 0o755);
  const podman = refusal(bin);
  assert.match(podman, /Container runners on this machine: podman\./);
  assert.match(podman, /podman run --rm -d --network host/);
});

test('a project of predictor APIs is not affected', () => {
  const iris = new URL('../../examples/iris-classifier', import.meta.url).pathname;
  refusePodApisLocally(loadProject(iris), '/nonexistent');
});
