import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { apiLogger } from '../operator/util/log.ts';
import {
  DependencyError,
  basePython,
  preparePython,
  refuseConda,
  runShellDependencies,
  venvKey,
  pipFailureFix,
} from './deps.ts';
import { COMPLETE_MARKER } from './venv-cache.ts';

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

test('what cortex install-deps baked into an image is not run or installed again at start', async () => {
  const dir = project({ 'dependencies.sh': 'echo "ran as $X"\n', 'requirements.txt': 'tiny-package==1.0\n' });
  const baked = project({});
  const { logger, lines } = capture();
  const env = { X: 'builder' };
  // at build time the script runs and is recorded
  assert.equal(
    await runShellDependencies(
      { script: 'dependencies.sh', required: false, projectDir: dir, env, bakeInto: baked },
      capture().logger,
    ),
    true,
  );
  // a virtualenv of these requirements as install-deps leaves it (no pip here: made by hand)
  const venv = path.join(baked, 'venvs', await venvKey(basePython(), readFileSync(path.join(dir, 'requirements.txt'))));
  mkdirSync(path.join(venv, 'bin'), { recursive: true });
  writeFileSync(path.join(venv, COMPLETE_MARKER), '');

  process.env.CORTEX_BAKED_DEPS = baked;
  try {
    assert.equal(
      await runShellDependencies({ script: 'dependencies.sh', required: false, projectDir: dir, env }, logger),
      false,
    );
    assert.equal(await preparePython(path.join(dir, 'requirements.txt'), logger), path.join(venv, 'bin', 'python'));
    // the same script with other variables, or changed, runs again
    assert.equal(
      await runShellDependencies(
        { script: 'dependencies.sh', required: false, projectDir: dir, env: { X: 'y' } },
        logger,
      ),
      true,
    );
  } finally {
    delete process.env.CORTEX_BAKED_DEPS;
  }
  const messages = lines().map((l) => l.message);
  assert.ok(messages.includes('dependencies.sh ran when the image was built (cortex build); not running it again'));
  assert.ok(messages.some((m) => typeof m === 'string' && m.startsWith('using the dependencies baked into the image')));
  assert.ok(messages.includes('ran as y'));
  assert.ok(!messages.includes('ran as builder'));
});

test('a failed pip install names the requirement as written, its line, the Python and CORTEX_PYTHON', () => {
  const py = 'python3, Python 3.11.2';
  // an old pin with only a source release, whose build fails: pip's last lines name no package
  const build = [
    'Collecting scikit-learn==0.21.3 (from -r /p/requirements.txt (line 2))',
    '  Downloading scikit-learn-0.21.3.tar.gz (12.2 MB)',
    "  Preparing metadata (setup.py): finished with status 'error'",
    '  error: subprocess-exited-with-error',
    'error: metadata-generation-failed',
    '× Encountered error while generating package metadata.',
    'note: This is an issue with the package mentioned above, not pip.',
  ];
  const fix = pipFailureFix(build, 'numpy==1.16.0\nscikit-learn==0.21.3  # the model\n', py);
  assert.match(
    fix,
    /^fix the requirement scikit-learn==0\.21\.3 \(requirements\.txt line 2\): it does not install on python3, Python 3\.11\.2 /,
  );
  assert.match(fix, /CORTEX_PYTHON/);
  // no such version: pip's error line names it; requirements.txt spells it differently
  const missing = [
    'ERROR: Could not find a version that satisfies the requirement torch==1.4.0 (from versions: 2.2.0, 2.3.0)',
    'ERROR: No matching distribution found for torch==1.4.0',
  ];
  assert.match(
    pipFailureFix(missing, 'Torch==1.4.0\n', py),
    /^fix the requirement Torch==1\.4\.0 \(requirements\.txt line 1\)/,
  );
  // a wheel build that failed
  const wheel = [
    'Collecting xgboost==0.90',
    'Building wheels for collected packages: xgboost',
    '  ERROR: Failed building wheel for xgboost',
    'Failed to build xgboost',
    'ERROR: Could not build wheels for xgboost, which is required to install pyproject.toml-based projects',
  ];
  assert.match(
    pipFailureFix(wheel, 'pandas\nxgboost==0.90\n', py),
    /^fix the requirement xgboost==0\.90 \(requirements\.txt line 2\)/,
  );
  // nothing recognisable: still the Python and the advice
  assert.match(
    pipFailureFix(['ERROR: something else'], 'a\n', py),
    /^fix the requirement named above: it does not install on python3, Python 3\.11\.2/,
  );
});
