// Project files and validation (issue 12, items 11-12), through the real CLI: links that leave the
// project and paths outside it are refused by deploy (local), render and build alike, before anything
// is copied, uploaded or built; the first error of a bad cortex.yaml names what the user wrote.
// Loopback only, no supervisor and no builder is ever started. Prints its figures (docs/reliability.md).
//   npx node --test test/faults/project-files.test.ts
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { copyProject, localEnv, type CliResult, type LocalEnv } from '../helpers/local.ts';
import { repoRoot } from '../helpers/serve.ts';

const FIXTURE = path.join(repoRoot, 'test', 'faults', 'fixtures', 'project-links');
const made: string[] = [];
let local: LocalEnv;
/** A folder with a fake podman that leaves a mark when run: build must never get that far. */
let fakeBin: string;
let builderMark: string;

function figure(line: string): void {
  process.stdout.write(`# ${line}\n`);
}

function project(): string {
  const dir = copyProject(FIXTURE);
  made.push(dir);
  return dir;
}

function outsideFolder(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cortex-outside-'));
  made.push(dir);
  writeFileSync(path.join(dir, 'shared.py'), 'SECRET = "outside"\n');
  return dir;
}

/** Snapshots in the local environment's home (none may be left by a refused deploy). */
function snapshots(): string[] {
  const dir = path.join(local.home, 'snapshots');
  return existsSync(dir) ? readdirSync(dir) : [];
}

const COMMANDS = {
  deploy: (dir: string) => local.cortex(['deploy', dir, '-y']),
  render: (dir: string) => local.cortex(['render', dir]),
  build: (dir: string) =>
    local.cortex(['build', dir, '-t', 'example.com/links:1', '--builder', 'podman', '--base', 'example.com/base:1'], {
      env: { PATH: `${fakeBin}${path.delimiter}${process.env.PATH ?? ''}` },
    }),
};

/** Runs deploy, render and build on `dir`; each must refuse it with exit 2 and nothing done. */
async function refusedByAll(dir: string, what: string): Promise<Record<string, CliResult>> {
  const started = Date.now();
  const runs = Object.entries(COMMANDS).map(async ([name, run]) => [name, await run(dir)] as const);
  const out = Object.fromEntries(await Promise.all(runs));
  for (const [name, result] of Object.entries(out)) {
    assert.equal(result.code, 2, `${name}: exit code; stderr:\n${result.stderr}`);
    assert.equal(result.stdout, '', `${name} printed nothing on stdout (render: no manifests)`);
  }
  const codes = Object.entries(out).map(([name, r]) => `${name} ${r.code}`);
  figure(`${what}: exit codes ${codes.join(', ')} (the three at once in ${Date.now() - started} ms)`);
  assert.deepEqual(snapshots(), [], 'a refused deploy leaves no snapshot');
  assert.equal(local.supervisorPid(), undefined, 'no supervisor was started');
  assert.equal(existsSync(builderMark), false, 'the builder never ran');
  return out;
}

before(async () => {
  local = await localEnv();
  fakeBin = mkdtempSync(path.join(tmpdir(), 'cortex-fake-podman-'));
  made.push(fakeBin);
  builderMark = path.join(fakeBin, 'ran');
  writeFileSync(path.join(fakeBin, 'podman'), `#!/bin/sh\necho "$@" > '${builderMark}'\nexit 1\n`);
  chmodSync(path.join(fakeBin, 'podman'), 0o755);
});

after(async () => {
  await local?.cleanup();
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

describe('project files and validation', { concurrency: false }, () => {
  test('item 11: links leaving the project: deploy, render and build refuse them, naming each + the fix', async () => {
    const dir = project();
    const outside = outsideFolder();
    symlinkSync('/etc/passwd', path.join(dir, 'passwd'));
    symlinkSync(outside, path.join(dir, 'lib', 'shared'));
    symlinkSync('util.py', path.join(dir, 'lib', 'alias.py')); // inside the project: fine
    const results = await refusedByAll(dir, 'links to /etc/passwd and an outside folder');
    process.stdout.write(`${results.deploy.stderr.trimEnd().replace(/^/gm, '#   ')}\n`);
    assert.doesNotMatch(
      results.deploy.stderr,
      /packing .*: done|packing .*\.\.\. \d+ files?/,
      'no "packed" above the error',
    );
    assert.match(results.deploy.stderr, /packing .*failed/, 'the packing step says it failed');
    for (const [name, { stderr }] of Object.entries(results)) {
      const lines = stderr.split('\n').filter((l) => l.includes('links to'));
      assert.equal(lines.length, 2, `${name} names both links:\n${stderr}`);
      assert.match(stderr, /lib\/shared: links to .*cortex-outside-.*, outside the project folder/, name);
      assert.match(
        stderr,
        /passwd: links to \/etc\/passwd, outside the project folder .*; fix: replace the link/,
        name,
      );
      assert.match(stderr, /list \/passwd in \.cortexignore/, name);
      assert.doesNotMatch(stderr, /root:x:0:0/, `${name} never read the target`);
    }
    // Left out with .cortexignore, as the fix says, the same project renders, without them.
    writeFileSync(path.join(dir, '.cortexignore'), '/passwd\n/lib/shared\n');
    const rendered = await COMMANDS.render(dir);
    assert.equal(rendered.code, 0, rendered.stderr);
    assert.match(rendered.stderr, /^bundle: 5 files,/, 'cortex.yaml, predictor.py, util.py, lib/util.py, lib/alias.py');
    figure(`after .cortexignore: cortex render exit 0, ${rendered.stderr.trim()}`);
  });

  test('item 11: python_path and dependencies outside the project are refused at validation', async () => {
    const dir = project();
    const outside = outsideFolder();
    writeFileSync(
      path.join(dir, 'cortex.yaml'),
      '- name: paths\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n' +
        `    python_path: ${outside}\n    dependencies:\n      pip: ../requirements.txt\n`,
    );
    const results = await refusedByAll(dir, 'absolute python_path and ../ pip file');
    for (const [name, { stderr }] of Object.entries(results)) {
      const first = stderr.split('\n').find((l) => l.includes('cortex.yaml:')) ?? '';
      assert.match(
        first,
        /cortex\.yaml:6:\d+: api "paths": predictor\.python_path: .*cortex-outside-.* is an absolute path; .*fix: copy it/,
        name,
      );
      assert.match(
        stderr,
        /cortex\.yaml:8:\d+: api "paths": predictor\.dependencies\.pip: \.\.\/requirements\.txt goes/,
      );
    }
  });

  test('item 12: the first error names what the user wrote; dot segments and absurd sizes are refused', async () => {
    const dir = project();
    const api = (name: string, extra: string) =>
      `- name: ${name}\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n${extra}`;
    writeFileSync(
      path.join(dir, 'cortex.yaml'),
      api('"Bad Name!"', '') +
        api('negative', '  autoscaling:\n    min_replicas: -2\n') +
        api('dots', '  networking:\n    endpoint: /../x\n') +
        api('huge', '  compute:\n    cpu: 1e99\n') +
        api('threads', '    threads_per_process: 100000\n'),
    );
    const { code, stderr } = await local.cortex(['deploy', dir]);
    assert.equal(code, 2, stderr);
    const errors = stderr.split('\n').filter((l) => l.includes('cortex.yaml:'));
    const fields = errors.map((l) => /: api "([^"]+)": ([a-z_.]+):/.exec(l)?.slice(1).join(' '));
    assert.deepEqual(fields, [
      'Bad Name! name',
      'negative autoscaling.min_replicas',
      'dots networking.endpoint',
      'huge compute.cpu',
      'threads predictor.threads_per_process',
    ]);
    assert.match(errors[2], /"\/\.\.\/x" has a "\." or "\.\." segment, which no request can reach/);
    assert.match(errors[3], /must be at most 1024 cores/);
    assert.match(errors[4], /must be ≤ 1024 \(got 100000\)/);
    assert.deepEqual(snapshots(), []);
    figure(`5 bad APIs: ${errors.length} errors, the first: ${errors[0].replace(/^.*cortex\.yaml/, 'cortex.yaml')}`);
  });
});
