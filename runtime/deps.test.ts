import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { apiLogger } from '../operator/util/log.ts';
import { DependencyError, refuseConda, runShellDependencies } from './deps.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cortex-deps-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  return dir;
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = apiLogger('api', 'info', (chunk) => {
    for (const l of chunk.split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  return { logger, lines: () => (logger.flush(), lines) };
}

test('the default dependencies.sh is optional; a script named in the spec is not', async () => {
  const dir = project({});
  const { logger, lines } = capture();
  assert.equal(
    await runShellDependencies({ script: 'dependencies.sh', required: false, projectDir: dir }, logger),
    false,
  );
  assert.deepEqual(lines(), []);
  await assert.rejects(
    runShellDependencies({ script: 'setup.sh', required: true, projectDir: dir }, logger),
    (e: unknown) =>
      e instanceof DependencyError &&
      e.message === 'setup.sh not found in the project folder (predictor.dependencies.shell)',
  );
});

test('one log line per output line, stdout and stderr in order, partial lines joined', async () => {
  const dir = project({
    'dependencies.sh':
      'printf "one\\n"; printf "tw" ; sleep 0.05; printf "o\\n"; echo three >&2; printf "no newline"\n' +
      'echo "in $(basename "$(pwd)")"; echo "X=$X"\n',
  });
  const { logger, lines } = capture();
  const ran = await runShellDependencies(
    { script: 'dependencies.sh', required: false, projectDir: dir, env: { X: 'from env' } },
    logger,
  );
  assert.equal(ran, true);
  const out = lines().filter((l) => l.source === 'dependencies.sh');
  assert.deepEqual(
    out.map((l) => l.message),
    ['one', 'two', 'three', `no newlinein ${path.basename(dir)}`, 'X=from env'],
  );
  assert.ok(out.every((l) => l.script === 'dependencies.sh' && l.level === 'info' && l.api === 'api'));
});

test('a failure names the script, its exit code and its last line, on one line', async () => {
  const dir = project({ 'setup.sh': 'echo working\necho "E: no such package" >&2\nexit 3\n' });
  const { logger } = capture();
  await assert.rejects(
    runShellDependencies({ script: 'setup.sh', required: true, projectDir: dir }, logger),
    (e: unknown) =>
      e instanceof DependencyError &&
      e.message === 'setup.sh failed with exit code 3; its last output: E: no such package',
  );
  const killed = project({ 'dependencies.sh': 'kill -KILL $$\n' });
  await assert.rejects(
    runShellDependencies({ script: 'dependencies.sh', required: false, projectDir: killed }, logger),
    /^DependencyError: dependencies\.sh was killed by SIGKILL$/,
  );
});

test('a conda-packages.txt in the project is refused', () => {
  assert.doesNotThrow(() => refuseConda(project({})));
  assert.throws(
    () => refuseConda(project({ 'conda-packages.txt': 'numpy\n' })),
    (e: unknown) =>
      e instanceof DependencyError &&
      /^conda is not supported: list pip packages in requirements\.txt or install them in dependencies\.sh/.test(
        e.message,
      ) &&
      e.message.includes('conda-packages.txt'),
  );
});
